/** Conformance: encrypted credentials (isolated per workspace, re-encrypted all or nothing) and API key administration. */
import { describe, expect, it } from 'vitest';
import type { CredentialRecord, ListCredentialsQuery } from '@flowpilot/store';
import { accessOf, freshId, isUniqueViolation, type Suite, user } from './conformance-helpers.js';

export function registerCredentialTests(suite: Suite): void {
  const store = () => accessOf(suite.store());
  const workspace = async (): Promise<string> => {
    const id = freshId('ws');
    await store().createWorkspace({ id, name: 'W', createdAt: 1, limits: {} });
    return id;
  };
  const credential = (workspaceId: string, id: string, name: string, extra: Partial<CredentialRecord> = {}): CredentialRecord => ({
    workspaceId,
    id,
    name,
    type: 'httpBearer',
    ciphertext: `v1.k1.${id}`,
    createdAt: 10,
    updatedAt: 10,
    ...extra,
  });
  /** Every page of a listing, following cursors. */
  const allPages = async (ws: string, query: Omit<ListCredentialsQuery, 'cursor'>): Promise<string[][]> => {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await store().listCredentials(ws, { ...query, ...(cursor === undefined ? {} : { cursor }) });
      pages.push(page.items.map((item) => item.id));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return pages;
  };

  describe('access: credentials', () => {
    it('creates and reads a credential; another workspace cannot see, change or delete it', async () => {
      const ws = await workspace();
      const other = await workspace();
      const created = credential(ws, 'c1', 'Slack bot', { createdBy: 'ada' });
      await store().createCredential(created);
      expect(await store().getCredential(ws, 'c1')).toEqual(created);
      expect(await store().getCredential(other, 'c1')).toBeUndefined();
      expect(await store().updateCredential(other, 'c1', { name: 'stolen' }, 20)).toBe(false);
      expect(await store().deleteCredential(other, 'c1')).toBe(false);
      expect(await store().listCredentials(other, { limit: 10 })).toEqual({ items: [] });
      expect(await store().getCredential(ws, 'c1')).toEqual(created);
    });

    it('names are unique per workspace: a duplicate (create or rename) is a unique violation; another workspace may reuse it', async () => {
      const ws = await workspace();
      const other = await workspace();
      await store().createCredential(credential(ws, 'c1', 'SMTP'));
      await store().createCredential(credential(ws, 'c2', 'Mail'));
      const duplicate = await store().createCredential(credential(ws, 'c3', 'SMTP')).catch((failure: unknown) => failure);
      expect(isUniqueViolation(duplicate), String(duplicate)).toBe(true);
      const rename = await store().updateCredential(ws, 'c2', { name: 'SMTP' }, 20).catch((failure: unknown) => failure);
      expect(isUniqueViolation(rename), String(rename)).toBe(true);
      await store().createCredential(credential(other, 'c1', 'SMTP'));
      expect(await store().getCredential(other, 'c1')).toMatchObject({ name: 'SMTP' });
      expect(await store().getCredential(ws, 'c2')).toMatchObject({ name: 'Mail', updatedAt: 10 });
    });

    it('updates the name and/or ciphertext with the update time; deletes once', async () => {
      const ws = await workspace();
      await store().createCredential(credential(ws, 'c1', 'Old'));
      expect(await store().updateCredential(ws, 'c1', { name: 'New' }, 20)).toBe(true);
      expect(await store().getCredential(ws, 'c1')).toEqual(credential(ws, 'c1', 'New', { updatedAt: 20 }));
      expect(await store().updateCredential(ws, 'c1', { ciphertext: 'v1.k1.other' }, 30)).toBe(true);
      expect(await store().getCredential(ws, 'c1')).toEqual(credential(ws, 'c1', 'New', { ciphertext: 'v1.k1.other', updatedAt: 30 }));
      expect(await store().updateCredential(ws, 'missing', { name: 'X' }, 40)).toBe(false);
      expect(await store().deleteCredential(ws, 'c1')).toBe(true);
      expect(await store().deleteCredential(ws, 'c1')).toBe(false);
      expect(await store().getCredential(ws, 'c1')).toBeUndefined();
    });

    it('lists by name (byte order) or by creation, in pages that neither skip nor repeat, filtered by type', async () => {
      const ws = await workspace();
      const rows = [
        credential(ws, 'c1', 'beta', { createdAt: 30 }),
        credential(ws, 'c2', 'Alpha', { createdAt: 10, type: 'smtp' }),
        credential(ws, 'c3', 'alpha', { createdAt: 20 }),
        credential(ws, 'c4', 'gamma', { createdAt: 20, type: 'smtp' }),
        credential(ws, 'c5', 'delta', { createdAt: 5 }),
      ];
      for (const row of rows) await store().createCredential(row);
      expect(await allPages(ws, { limit: 2 })).toEqual([['c2', 'c3'], ['c1', 'c5'], ['c4']]);
      expect(await allPages(ws, { limit: 2, order: 'name' })).toEqual([['c2', 'c3'], ['c1', 'c5'], ['c4']]);
      expect(await allPages(ws, { limit: 2, order: 'created' })).toEqual([['c5', 'c2'], ['c3', 'c4'], ['c1']]);
      expect(await allPages(ws, { limit: 5, order: 'created' })).toEqual([['c5', 'c2', 'c3', 'c4', 'c1']]);
      expect(await allPages(ws, { limit: 1, type: 'smtp' })).toEqual([['c2'], ['c4']]);
      expect(await allPages(ws, { limit: 1, type: 'smtp', order: 'created' })).toEqual([['c2'], ['c4']]);
      expect(await allPages(ws, { limit: 10, type: 'none' })).toEqual([[]]);
    });

    it('refuses a cursor of the other order or one it did not hand out', async () => {
      const ws = await workspace();
      await store().createCredential(credential(ws, 'c1', 'a'));
      await store().createCredential(credential(ws, 'c2', 'b'));
      const byName = await store().listCredentials(ws, { limit: 1 });
      const byAge = await store().listCredentials(ws, { limit: 1, order: 'created' });
      await expect(store().listCredentials(ws, { limit: 1, order: 'created', cursor: byName.nextCursor! })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
      await expect(store().listCredentials(ws, { limit: 1, cursor: byAge.nextCursor! })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
      await expect(store().listCredentials(ws, { limit: 1, cursor: 'garbage' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    });

    it('re-encrypts every credential of every workspace in one go', async () => {
      const ws = await workspace();
      const other = await workspace();
      await store().createCredential(credential(ws, 'c1', 'a'));
      await store().createCredential(credential(ws, 'c2', 'b'));
      await store().createCredential(credential(other, 'c1', 'a'));
      const seen: string[] = [];
      const count = await store().reencryptCredentials((row) => {
        seen.push(`${row.workspaceId}/${row.id}`);
        return row.ciphertext.replace('v1.k1.', `v1.k2.${row.workspaceId}.`);
      });
      expect(count).toBe(3);
      expect(seen.sort()).toEqual([`${other}/c1`, `${ws}/c1`, `${ws}/c2`].sort());
      expect(await store().getCredential(ws, 'c2')).toEqual(credential(ws, 'c2', 'b', { ciphertext: `v1.k2.${ws}.c2` }));
      expect((await store().getCredential(other, 'c1'))?.ciphertext).toBe(`v1.k2.${other}.c1`);
    });

    it('re-encryption is all or nothing: when one row fails, no row changes', async () => {
      const ws = await workspace();
      for (const id of ['c1', 'c2', 'c3']) await store().createCredential(credential(ws, id, id));
      let calls = 0;
      await expect(
        store().reencryptCredentials((row) => {
          calls += 1;
          if (calls === 2) throw new Error(`cannot decrypt ${row.id}`);
          return 'v1.k2.new';
        }),
      ).rejects.toThrow(/cannot decrypt/);
      for (const id of ['c1', 'c2', 'c3']) expect((await store().getCredential(ws, id))?.ciphertext).toBe(`v1.k1.${id}`);
    });
  });

  describe('access: API key administration', () => {
    const key = (workspaceId: string, id: string, extra: { userId?: string; createdAt?: number } = {}) => ({
      workspaceId,
      id,
      name: `Key ${id}`,
      prefix: `fp_${id}`,
      hash: `hash-${workspaceId}-${id}`,
      scopes: ['read', 'run'],
      createdAt: extra.createdAt ?? 1,
      ...(extra.userId === undefined ? {} : { userId: extra.userId }),
    });

    it("stores the key's user; lists a workspace's keys oldest first; another workspace's key is not found", async () => {
      const ws = await workspace();
      const other = await workspace();
      await store().createUser(user('ada'));
      await store().createApiKey(key(ws, 'k2', { userId: 'ada', createdAt: 20 }));
      await store().createApiKey(key(ws, 'k1', { createdAt: 10 }));
      await store().createApiKey(key(other, 'k3', { userId: 'ada' }));
      expect(await store().listApiKeys(ws)).toEqual([key(ws, 'k1', { createdAt: 10 }), key(ws, 'k2', { userId: 'ada', createdAt: 20 })]);
      expect(await store().getApiKey(ws, 'k2')).toEqual(key(ws, 'k2', { userId: 'ada', createdAt: 20 }));
      expect(await store().findApiKeyByHash(`hash-${ws}-k2`)).toMatchObject({ userId: 'ada' });
      expect(await store().getApiKey(ws, 'k3')).toBeUndefined();
      expect(await store().getApiKey(other, 'k3')).toMatchObject({ userId: 'ada' });
    });

    it('revokes a key once, only in its own workspace', async () => {
      const ws = await workspace();
      const other = await workspace();
      await store().createApiKey(key(ws, 'k1'));
      expect(await store().revokeApiKey(other, 'k1', 50)).toBe(false);
      expect(await store().revokeApiKey(ws, 'k1', 50)).toBe(true);
      expect(await store().revokeApiKey(ws, 'k1', 60)).toBe(false);
      expect(await store().getApiKey(ws, 'k1')).toEqual({ ...key(ws, 'k1'), revokedAt: 50 });
      expect(await store().findApiKeyByHash(`hash-${ws}-k1`)).toMatchObject({ revokedAt: 50 });
      expect(await store().revokeApiKey(ws, 'missing', 50)).toBe(false);
    });
  });
}
