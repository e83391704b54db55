/**
 * Identity over real HTTP on SQLite and PostgreSQL: first-start setup, login, refresh rotation and
 * reuse detection, logout, `/me`, and attempts to get in without a valid token.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deriveKey, type SecretKey } from '@flowpilot/vault';
import { API_KEY, describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { as, decodeJwt, login, PASSWORD, setupOwner, startAuthServer, type Tokens } from './auth-helpers.js';
import { expectJson, expectProblem, tag } from './helpers.js';

interface Me {
  user: { id: string; email: string; name: string } | null;
  workspaces: Array<{ id: string; name: string; role?: string; level: string }>;
  apiKey?: { id: string; scopes: string[] };
}

describeBackends('identity', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let secretKey: SecretKey;
  let owner: { email: string; userId: string; tokens: Tokens };

  beforeAll(async () => {
    ({ t, secretKey } = await startAuthServer(backend));
  });
  afterAll(() => t?.close());

  describe('first start', () => {
    test('setup is needed, refuses a short password naming the field, creates the owner once, then answers 409', async () => {
      expect(await expectJson(await as(t, undefined, '/api/v1/setup'), 200)).toEqual({ needed: true });
      const short = await expectProblem(await as(t, undefined, '/api/v1/setup', { method: 'POST', json: { email: 'a@example.com', password: 'short' } }), 400, 'INVALID_REQUEST');
      expect(short.errors?.map((error) => error.path)).toEqual(['body.password']);
      await expectProblem(await as(t, undefined, '/api/v1/setup', { method: 'POST', json: { email: 'not-an-email', password: PASSWORD } }), 400, 'INVALID_REQUEST');
      expect(await expectJson(await as(t, undefined, '/api/v1/setup'), 200)).toEqual({ needed: true });

      owner = await setupOwner(t, `Owner-${tag()}@Example.com`);
      expect(owner.tokens).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, accessToken: expect.any(String), refreshToken: expect.stringMatching(/^fpr_/) });
      owner.email = owner.email.toLowerCase();
      expect(await expectJson(await as(t, undefined, '/api/v1/setup'), 200)).toEqual({ needed: false });
      await expectProblem(await as(t, undefined, '/api/v1/setup', { method: 'POST', json: { email: `late-${tag()}@example.com`, password: PASSWORD } }), 409, 'SETUP_DONE');

      const me = await expectJson<Me>(await as(t, owner.tokens.accessToken, '/api/v1/me'), 200);
      expect(me.user).toMatchObject({ id: owner.userId, email: owner.email, name: 'Owner' });
      expect(me.user).not.toHaveProperty('passwordHash');
      expect(me.workspaces).toEqual([{ id: 'default', name: 'Default', role: 'owner', level: 'admin' }]);
      const audit = await t.store.listAudit('default', { action: 'auth.setup', limit: 10 });
      expect(audit.items).toEqual([expect.objectContaining({ actorType: 'user', actorId: owner.userId, resourceId: owner.userId })]);
    });
  });

  describe('login', () => {
    test('answers the token pair; the access token is an HS256 JWT for the user with issuer and audience', async () => {
      const tokens = await login(t, owner.email.toUpperCase());
      expect(Object.keys(tokens).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'tokenType']);
      expect(tokens).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
      const { header, payload } = decodeJwt(tokens.accessToken);
      expect(header).toEqual({ alg: 'HS256', typ: 'at+jwt' });
      expect(payload).toMatchObject({ sub: owner.userId, iss: 'flowpilot', aud: 'flowpilot-api', jti: expect.any(String) });
      expect((payload.exp as number) - (payload.iat as number)).toBe(900);
      const me = await expectJson<Me>(await as(t, tokens.accessToken, '/api/v1/me'), 200);
      expect(me.user?.id).toBe(owner.userId);
      const logins = await t.store.listAudit('default', { action: 'auth.login', actorId: owner.userId, limit: 10 });
      expect(logins.items.length).toBeGreaterThanOrEqual(1);
    });

    test('an unknown email and a wrong password get the same 401; a disabled user too, and their access token stops working', async () => {
      const wrong = await expectProblem(await as(t, undefined, '/api/v1/auth/login', { method: 'POST', json: { email: owner.email, password: 'wrong password' } }), 401, 'INVALID_CREDENTIALS');
      const unknown = await expectProblem(await as(t, undefined, '/api/v1/auth/login', { method: 'POST', json: { email: `nobody-${tag()}@example.com`, password: PASSWORD } }), 401, 'INVALID_CREDENTIALS');
      expect(unknown).toEqual(wrong);

      const email = `disabled-${tag()}@example.com`;
      const invited = await expectJson<{ token: string }>(await as(t, owner.tokens.accessToken, '/api/v1/workspaces/default/invitations', { method: 'POST', json: { email, role: 'viewer' } }), 201);
      const accepted = await expectJson<{ user: { id: string } }>(await as(t, undefined, '/api/v1/invitations/accept', { method: 'POST', json: { token: invited.token, password: PASSWORD } }), 200);
      const tokens = await login(t, email);
      await expectJson(await as(t, tokens.accessToken, '/api/v1/workflows'), 200);
      await t.store.updateUser(accepted.user.id, { disabledAt: Date.now() });
      expect(await expectProblem(await as(t, undefined, '/api/v1/auth/login', { method: 'POST', json: { email, password: PASSWORD } }), 401, 'INVALID_CREDENTIALS')).toEqual(wrong);
      await expectProblem(await as(t, tokens.accessToken, '/api/v1/workflows'), 401, 'UNAUTHENTICATED');
      await expectProblem(await as(t, undefined, '/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: tokens.refreshToken } }), 401, 'INVALID_REFRESH_TOKEN');
    });
  });

  describe('refresh and logout', () => {
    test('refresh rotates: a new pair that works, the old refresh token no longer does', async () => {
      const first = await login(t, owner.email);
      const second = await expectJson<Tokens>(await as(t, undefined, '/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: first.refreshToken } }), 200);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(second.tokenType).toBe('Bearer');
      expect((await expectJson<Me>(await as(t, second.accessToken, '/api/v1/me'), 200)).user?.id).toBe(owner.userId);
      const third = await expectJson<Tokens>(await as(t, undefined, '/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: second.refreshToken } }), 200);
      expect(third.refreshToken).not.toBe(second.refreshToken);
    });

    test('a replaced refresh token used again revokes the whole family (a thief and the owner both lose it)', async () => {
      const stolen = await login(t, owner.email);
      // The thief refreshes first with the stolen token…
      const thief = await expectJson<Tokens>(await as(t, undefined, '/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: stolen.refreshToken } }), 200);
      // …then the owner presents the same (now replaced) token: reuse detected.
      const reused = await expectProblem(await as(t, undefined, '/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: stolen.refreshToken } }), 401, 'INVALID_REFRESH_TOKEN');
      expect(reused.detail).toContain('already used');
      // The thief's newer token is revoked with its family.
      await expectProblem(await as(t, undefined, '/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: thief.refreshToken } }), 401, 'INVALID_REFRESH_TOKEN');
      // Other sessions of the same user are not affected.
      const other = await login(t, owner.email);
      await expectJson(await as(t, undefined, '/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: other.refreshToken } }), 200);
    });

    test('another user’s refresh token buys only that user’s identity, never the presenter’s', async () => {
      const email = `victim-${tag()}@example.com`;
      const invited = await expectJson<{ token: string }>(await as(t, owner.tokens.accessToken, '/api/v1/workspaces/default/invitations', { method: 'POST', json: { email, role: 'viewer' } }), 201);
      await expectJson(await as(t, undefined, '/api/v1/invitations/accept', { method: 'POST', json: { token: invited.token, password: PASSWORD } }), 200);
      const viewer = await login(t, email);
      // The owner's own access token on the request changes nothing: the refresh token decides.
      const pair = await expectJson<Tokens>(await as(t, owner.tokens.accessToken, '/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: viewer.refreshToken } }), 200);
      expect(decodeJwt(pair.accessToken).payload.sub).not.toBe(owner.userId);
      const me = await expectJson<Me>(await as(t, pair.accessToken, '/api/v1/me'), 200);
      expect(me.user?.email).toBe(email);
      expect(me.workspaces).toEqual([expect.objectContaining({ id: 'default', role: 'viewer', level: 'read' })]);
    });

    test('logout revokes the session (204); the refresh token then fails; unknown tokens answer 204 too', async () => {
      const tokens = await login(t, owner.email);
      const response = await as(t, undefined, '/api/v1/auth/logout', { method: 'POST', json: { refreshToken: tokens.refreshToken } });
      expect(response.status).toBe(204);
      await expectProblem(await as(t, undefined, '/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: tokens.refreshToken } }), 401, 'INVALID_REFRESH_TOKEN');
      expect((await as(t, undefined, '/api/v1/auth/logout', { method: 'POST', json: { refreshToken: `fpr_${randomBytes(32).toString('base64url')}` } })).status).toBe(204);
    });
  });

  describe('attacks on the guard', () => {
    const sign = (key: Uint8Array, claims: { sub?: string; iss?: string; aud?: string; iat?: number; exp?: number; typ?: string; alg?: string } = {}): Promise<string> => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({})
        .setProtectedHeader({ alg: claims.alg ?? 'HS256', typ: claims.typ ?? 'at+jwt' })
        .setSubject(claims.sub ?? owner.userId)
        .setIssuer(claims.iss ?? 'flowpilot')
        .setAudience(claims.aud ?? 'flowpilot-api')
        .setIssuedAt(claims.iat ?? now)
        .setExpirationTime(claims.exp ?? now + 600)
        .sign(key);
    };
    const jwtKey = (): Uint8Array => deriveKey(secretKey, 'flowpilot-jwt');

    const refused = async (bearer: string | undefined, why: string): Promise<void> => {
      const response = await as(t, bearer, '/api/v1/workflows');
      expect(response.status, why).toBe(401);
      expect(response.headers.get('www-authenticate'), why).toMatch(/^Bearer/);
      await expectProblem(response, 401, 'UNAUTHENTICATED');
    };

    test('a token forged correctly with the server key is accepted (the forgeries below differ in one thing only)', async () => {
      await expectJson(await as(t, await sign(jwtKey()), '/api/v1/workflows'), 200);
    });

    test('no token, garbage, and JWT-shaped garbage are 401', async () => {
      await refused(undefined, 'no token');
      await refused('garbage', 'garbage');
      await refused('abc.def.ghi', 'JWT-shaped garbage');
      await refused(`${owner.tokens.accessToken}x`, 'extra character');
    });

    test('an expired JWT is 401', async () => {
      const past = Math.floor(Date.now() / 1000) - 3600;
      await refused(await sign(jwtKey(), { iat: past - 900, exp: past }), 'expired');
    });

    test('a tampered signature or payload is 401', async () => {
      const [header, payload, signature] = (await login(t, owner.email)).accessToken.split('.') as [string, string, string];
      const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
      await refused(`${header}.${payload}.${flipped}`, 'tampered signature');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const longer = Buffer.from(JSON.stringify({ ...claims, exp: (claims.exp as number) + 86_400 })).toString('base64url');
      await refused(`${header}.${longer}.${signature}`, 'tampered payload');
    });

    test('alg "none", another key, the raw secret key (not the derived one), other issuer, audience or type: 401', async () => {
      const now = Math.floor(Date.now() / 1000);
      const unsigned = new UnsecuredJWT({}).setSubject(owner.userId).setIssuer('flowpilot').setAudience('flowpilot-api').setIssuedAt(now).setExpirationTime(now + 600).encode();
      await refused(unsigned, 'alg none');
      await refused(await sign(randomBytes(32)), 'another key');
      await refused(await sign(secretKey.bytes), 'the raw secret key');
      await refused(await sign(jwtKey(), { iss: 'someone-else' }), 'issuer');
      await refused(await sign(jwtKey(), { aud: 'another-api' }), 'audience');
      await refused(await sign(jwtKey(), { typ: 'JWT' }), 'type');
      await refused(await sign(jwtKey(), { alg: 'HS512' }), 'HS512 with the right key');
      await refused(await sign(jwtKey(), { sub: 'no-such-user' }), 'a user that does not exist');
    });

    test('a refresh token is no access token, and an access token no refresh token', async () => {
      const tokens = await login(t, owner.email);
      await refused(tokens.refreshToken, 'refresh token as access token');
      await expectProblem(await as(t, undefined, '/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: tokens.accessToken } }), 401, 'INVALID_REFRESH_TOKEN');
      // Neither attempt burnt the refresh token.
      await expectJson(await as(t, undefined, '/api/v1/auth/refresh', { method: 'POST', json: { refreshToken: tokens.refreshToken } }), 200);
    });

    test('the public operations are exactly setup, login, refresh, logout and accepting an invitation', async () => {
      const document = (await (await t.api('/api/v1/openapi.json')).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
      const open = Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).filter(([, operation]) => operation.security?.length === 0).map(([method]) => `${method.toUpperCase()} ${path}`));
      expect(open.sort()).toEqual(['GET /api/v1/setup', 'POST /api/v1/auth/login', 'POST /api/v1/auth/logout', 'POST /api/v1/auth/refresh', 'POST /api/v1/invitations/accept', 'POST /api/v1/setup']);
    });
  });

  describe('bootstrap key and no secret key', () => {
    test('the FLOWPILOT_API_KEY key acts as admin of the default workspace without a user', async () => {
      const me = await expectJson<Me>(await t.api('/api/v1/me'), 200);
      expect(me).toMatchObject({ user: null, workspaces: [{ id: 'default', level: 'admin' }], apiKey: { scopes: ['admin'] } });
    });

    test('without a secret key: setup and login answer 503 SECRET_KEY_REQUIRED, access tokens 401, API keys still work', async () => {
      const bare = await startTestServer({ secretKey: undefined }, backend);
      try {
        await expectProblem(await as(bare, undefined, '/api/v1/auth/login', { method: 'POST', json: { email: owner.email, password: PASSWORD } }), 503, 'SECRET_KEY_REQUIRED');
        await expectProblem(await as(bare, undefined, '/api/v1/setup', { method: 'POST', json: { email: `x-${tag()}@example.com`, password: PASSWORD } }), 503, 'SECRET_KEY_REQUIRED');
        await expectProblem(await as(bare, owner.tokens.accessToken, '/api/v1/workflows'), 401, 'UNAUTHENTICATED');
        await expectJson(await as(bare, API_KEY, '/api/v1/workflows'), 200);
      } finally {
        await bare.close();
      }
    });
  });
});
