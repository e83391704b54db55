/**
 * Webhook signing secrets kept in `webhookSecret` credentials: decrypted when a request arrives,
 * and kept in memory a few seconds so a webhook under load does not read and decrypt per request
 * (an updated credential takes effect within {@link TTL_MS}).
 */
import { TtlCache } from '@flowpilot/runtime';
import { decryptCredential } from '@flowpilot/vault';
import type { WebhookRoute } from '@flowpilot/store';
import type { ServerContext } from './context.js';
import { HttpProblem } from './problems.js';

const TTL_MS = 5_000;

export class WebhookSecrets {
  readonly #cache = new TtlCache<string>(TTL_MS);

  constructor(private readonly ctx: ServerContext) {}

  /** The secret a request to `route` must be signed with, if any. */
  async of(route: WebhookRoute): Promise<string | undefined> {
    if (route.credentialId === undefined) return route.secret;
    const { workspaceId, credentialId } = route;
    return this.#cache.get(`${workspaceId}\u0000${credentialId}`, () => this.#read(workspaceId, credentialId));
  }

  async #read(workspaceId: string, credentialId: string): Promise<string> {
    // 503: the webhook exists but cannot check signatures now; a sender retries, nothing runs unsigned.
    const unavailable = (why: string) => new HttpProblem(503, 'WEBHOOK_SECRET_UNAVAILABLE', `the webhook's signing secret is unavailable: ${why}`);
    const key = this.ctx.secretKey;
    if (key === undefined) throw unavailable('this server has no secret key (set FLOWPILOT_SECRET_KEY)');
    const record = await this.ctx.store.getCredential(workspaceId, credentialId);
    if (record === undefined || record.type !== 'webhookSecret') throw unavailable(`credential "${credentialId}" is missing or not a webhookSecret`);
    let data: unknown;
    try {
      data = decryptCredential(key, { workspaceId, credentialId }, record.ciphertext);
    } catch {
      throw unavailable(`credential "${credentialId}" cannot be decrypted with this server's key`);
    }
    const secret = (data as { secret?: unknown }).secret;
    if (typeof secret !== 'string' || secret === '') throw unavailable(`credential "${credentialId}" has no secret`);
    return secret;
  }
}
