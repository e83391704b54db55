/**
 * Access tokens: JWTs (jose) signed with HS256 under a key derived from the secret key. Verification
 * pins the algorithm (no `none`, no RS/HS confusion), the token type, issuer and audience, and checks
 * expiry against the server's clock.
 */
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { deriveKey, type SecretKey } from '@flowpilot/vault';

export const JWT_ISSUER = 'flowpilot';
export const JWT_AUDIENCE = 'flowpilot-api';
/** RFC 9068's type for access tokens: a JWT minted for anything else never passes as one. */
export const JWT_TYPE = 'at+jwt';
/** HKDF purpose of the signing key: the secret key itself never signs anything. */
export const JWT_KEY_PURPOSE = 'flowpilot-jwt';
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 15 * 60;

/** A JWT's shape: three base64url parts (the signature may be empty, as in `alg: none`). */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/** Signs and verifies access tokens. */
export class AccessTokens {
  readonly #key: Uint8Array;

  constructor(
    secretKey: SecretKey,
    /** Lifetime of a token, in seconds. */
    readonly ttlSeconds: number,
    private readonly now: () => number,
  ) {
    this.#key = deriveKey(secretKey, JWT_KEY_PURPOSE);
  }

  /** A token for `userId`, valid `ttlSeconds` from now. */
  sign(userId: string): Promise<string> {
    const issuedAt = Math.floor(this.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: JWT_TYPE })
      .setSubject(userId)
      .setJti(randomUUID())
      .setIssuer(JWT_ISSUER)
      .setAudience(JWT_AUDIENCE)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + this.ttlSeconds)
      .sign(this.#key);
  }

  /** The user id of a valid token; undefined for anything else (bad signature, expired, wrong alg…). */
  async verify(token: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: ['HS256'],
        typ: JWT_TYPE,
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
        requiredClaims: ['sub', 'exp', 'iat'],
        currentDate: new Date(this.now()),
      });
      return typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
    } catch {
      return undefined;
    }
  }
}
