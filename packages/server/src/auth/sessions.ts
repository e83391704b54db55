/**
 * Login sessions: an access token (JWT) plus a one-time refresh token. Refresh tokens are random
 * 32-byte strings (`fpr_…`) of which only the SHA-256 is stored. Refreshing replaces the token
 * (rotation); the tokens of one login form a family, and presenting a replaced token again revokes
 * the whole family: whoever stole a token loses it as soon as either party refreshes.
 * Access tokens already issued stay valid until they expire (at most their short lifetime).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { RefreshTokenRecord } from '@flowpilot/store';
import type { ServerStore } from '../server-store.js';
import type { AccessTokens } from './tokens.js';

export const DEFAULT_REFRESH_TOKEN_TTL_MS = 30 * 24 * 3_600_000;
const PREFIX = 'fpr_';

/** What login, setup and refresh answer (*contract*). */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
}

export type RefreshOutcome = { ok: true; userId: string; tokens: TokenPair } | { ok: false; reason: 'invalid' | 'reused' };

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class Sessions {
  constructor(
    private readonly store: ServerStore,
    private readonly accessTokens: AccessTokens,
    private readonly refreshTtlMs: number,
    private readonly now: () => number,
  ) {}

  /** Starts a session (a new token family) for a user who just proved who they are. */
  async start(userId: string): Promise<TokenPair> {
    return this.#issue(userId, randomUUID(), randomUUID());
  }

  /** Exchanges a refresh token for a new pair, or says why not. */
  async refresh(token: string): Promise<RefreshOutcome> {
    const record = token.startsWith(PREFIX) ? await this.store.findRefreshTokenByHash(hashToken(token)) : undefined;
    if (record === undefined) return { ok: false, reason: 'invalid' };
    const now = this.now();
    if (record.revokedAt !== undefined) {
      // A token that was replaced is being used again: one of its holders is not the owner.
      if (record.replacedBy === undefined) return { ok: false, reason: 'invalid' };
      await this.store.revokeRefreshFamily(record.familyId, now);
      return { ok: false, reason: 'reused' };
    }
    if (record.expiresAt <= now) return { ok: false, reason: 'invalid' };
    const user = await this.store.getUser(record.userId);
    if (user === undefined || user.disabledAt !== undefined) {
      await this.store.revokeRefreshFamily(record.familyId, now);
      return { ok: false, reason: 'invalid' };
    }
    const nextId = randomUUID();
    // Revoking is the compare-and-set: of two requests presenting one token, only one gets a successor.
    if (!(await this.store.revokeRefreshToken(record.id, now, nextId))) {
      await this.store.revokeRefreshFamily(record.familyId, now);
      return { ok: false, reason: 'reused' };
    }
    return { ok: true, userId: user.id, tokens: await this.#issue(user.id, record.familyId, nextId) };
  }

  /** Logout: revokes the token's family (the session). Unknown tokens are ignored. */
  async end(token: string): Promise<void> {
    const record = token.startsWith(PREFIX) ? await this.store.findRefreshTokenByHash(hashToken(token)) : undefined;
    if (record !== undefined) await this.store.revokeRefreshFamily(record.familyId, this.now());
  }

  async #issue(userId: string, familyId: string, id: string): Promise<TokenPair> {
    const refreshToken = `${PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = this.now();
    const record: RefreshTokenRecord = { id, userId, familyId, tokenHash: hashToken(refreshToken), createdAt: now, expiresAt: now + this.refreshTtlMs };
    await this.store.createRefreshToken(record);
    return { accessToken: await this.accessTokens.sign(userId), refreshToken, tokenType: 'Bearer', expiresIn: this.accessTokens.ttlSeconds };
  }
}
