/**
 * Security: authentication bypass on every operation, over real HTTP on SQLite and PostgreSQL.
 * auth.test.ts tries each forgery on one route and explains it; here every guarded operation of the
 * OpenAPI document (and the hidden WebSocket route), filled with real ids and a valid body, must
 * answer each of them 401 problem+json `UNAUTHENTICATED` with a `WWW-Authenticate: Bearer` challenge.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deriveKey } from '@flowpilot/vault';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { expectJson, testRegistry } from './helpers.js';
import { buildWorld, send, type World } from './security-helpers.js';
import { fill, operations, paramsIn, ROUTES, type Operation } from './security-routes.js';

describeBackends('security: authentication bypass', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let ops: Operation[];
  let b: World;
  /** Each forgery with what it is; `undefined` sends no Authorization header. */
  let forgeries: Array<{ what: string; bearer?: string; authorization?: string }>;

  /** An access token as the server makes them, signed with `key`, for B's owner. */
  const sign = (key: Uint8Array, exp: number, iat = exp - 900): Promise<string> =>
    new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).setSubject(b.owner.userId).setIssuer('flowpilot').setAudience('flowpilot-api').setIssuedAt(iat).setExpirationTime(exp).sign(key);

  beforeAll(async () => {
    t = await startTestServer({ registry: testRegistry() }, backend);
    ops = await operations(t);
    b = await buildWorld(t, 'b');
    const now = Math.floor(Date.now() / 1000);
    const jwtKey = deriveKey(backend.secretKey, 'flowpilot-jwt');
    const [header, payload, signature] = b.owner.bearer.split('.') as [string, string, string];
    const revoked = await expectJson<{ key: string; id: string }>(await t.api('/api/v1/keys', { method: 'POST', json: { name: 'revoked', scopes: ['admin'] } }), 201);
    expect((await t.api(`/api/v1/keys/${revoked.id}`, { method: 'DELETE' })).status).toBe(204);
    // The control: a token forged with the server's key and a live expiry is accepted.
    expect((await send(t, await sign(jwtKey, now + 600), 'GET', '/api/v1/me')).status).toBe(200);
    forgeries = [
      { what: 'no Authorization header' },
      { what: 'an empty bearer', authorization: 'Bearer ' },
      { what: 'Basic credentials', authorization: `Basic ${Buffer.from(`${b.owner.email}:pw`).toString('base64')}` },
      { what: 'a garbage token', bearer: 'garbage' },
      { what: 'JWT-shaped garbage', bearer: 'abc.def.ghi' },
      { what: 'an expired access token (right key)', bearer: await sign(jwtKey, now - 60) },
      { what: 'a tampered signature', bearer: `${header}.${payload}.${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}` },
      { what: 'alg: none', bearer: new UnsecuredJWT({}).setSubject(b.owner.userId).setIssuer('flowpilot').setAudience('flowpilot-api').setIssuedAt(now).setExpirationTime(now + 600).encode() },
      { what: 'a JWT signed with another key', bearer: await sign(randomBytes(32), now + 600) },
      { what: 'a refresh token as access token', bearer: b.owner.refreshToken },
      { what: 'a revoked API key', bearer: revoked.key },
    ];
  }, 60_000);
  afterAll(() => t?.close());

  test('every guarded operation answers every forged or missing bearer 401 UNAUTHENTICATED with a Bearer challenge', async () => {
    const failures: string[] = [];
    const guarded = [...ops.map((op) => ({ key: op.key, method: op.method, template: op.template })), { key: 'GET /api/v1/ws', method: 'GET', template: '/api/v1/ws' }].filter(({ key }) => ROUTES[key]?.level !== 'public');
    expect(guarded.length).toBe(ops.length - 6 + 1);
    for (const op of guarded) {
      const spec = ROUTES[op.key];
      if (spec === undefined) {
        failures.push(`${op.key}: not in the table`);
        continue;
      }
      const path = `${fill(op.template, paramsIn(spec, b))}${spec.query === undefined ? '' : `?${spec.query}`}`;
      for (const forgery of forgeries) {
        const headers = forgery.authorization === undefined ? undefined : { authorization: forgery.authorization };
        const sent = await send(t, forgery.bearer, op.method, path, { json: spec.body?.(), workspace: b.id, headers });
        const body = sent.contentType.includes('application/problem+json') ? (JSON.parse(sent.text) as { code?: string; status?: number }) : undefined;
        if (sent.status !== 401 || body?.code !== 'UNAUTHENTICATED' || body.status !== 401 || !/^Bearer/.test(sent.headers.get('www-authenticate') ?? '')) {
          failures.push(`${op.key} with ${forgery.what}: ${sent.status} ${sent.headers.get('www-authenticate')} ${sent.text.slice(0, 160)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  test('the public operations need no bearer, and a forged one changes nothing there', async () => {
    for (const op of ops.filter((candidate) => ROUTES[candidate.key]?.level === 'public')) {
      const spec = ROUTES[op.key]!;
      for (const forgery of [forgeries[0]!, forgeries[7]!]) {
        const sent = await send(t, forgery.bearer, op.method, op.template, { json: spec.body?.() });
        expect(sent.status, `${op.key} with ${forgery.what}: ${sent.text}`).toBeLessThan(500);
        if (sent.status === 401) expect(JSON.parse(sent.text), op.key).not.toMatchObject({ code: 'UNAUTHENTICATED' });
      }
    }
  });
});
