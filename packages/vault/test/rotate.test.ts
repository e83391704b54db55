/** Key rotation against real stores (SQLite, and PostgreSQL when it answers): all credentials or none. */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { PostgresStore, SqliteStore, type AccessStore, type Store } from '@flowpilot/store';
import { CredentialDecryptError, decryptCredential, encryptCredential, envelopeKeyId, rotateSecretKey, toSecretKey, type SecretKey } from '@flowpilot/vault';
import { adminClient, DATABASE_URL, describePostgres, probePostgres, randomSchema } from '../../store/test/postgres-helpers.js';

type TestStore = Store & AccessStore;

const newKey = (): SecretKey => toSecretKey(randomBytes(32), 'env');

async function seed(store: TestStore, key: SecretKey, workspaceId: string, id: string, data: Record<string, unknown>): Promise<void> {
  await store.createCredential({ workspaceId, id, name: `name-${id}`, type: 'httpBearer', ciphertext: encryptCredential(key, { workspaceId, credentialId: id }, data), createdAt: 1, updatedAt: 1 });
}

async function ciphertexts(store: TestStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const workspaceId of ['default', 'other']) {
    for (const credential of (await store.listCredentials(workspaceId, { limit: 100 })).items) out.set(`${workspaceId}/${credential.id}`, credential.ciphertext);
  }
  return out;
}

function rotationSuite(open: () => Promise<TestStore>): void {
  test('every credential of every workspace moves to the new key; the old key no longer opens any', async () => {
    const store = await open();
    try {
      const oldKey = newKey();
      const next = newKey();
      await store.createWorkspace({ id: 'other', name: 'Other', createdAt: 1, limits: {} });
      await seed(store, oldKey, 'default', 'a', { token: 'token-a' });
      await seed(store, oldKey, 'default', 'b', { token: 'token-b' });
      await seed(store, oldKey, 'other', 'a', { token: 'token-other-a' });
      expect(await rotateSecretKey(store, oldKey, next)).toEqual({ credentials: 3 });
      for (const [where, envelope] of await ciphertexts(store)) {
        const [workspaceId, credentialId] = where.split('/') as [string, string];
        expect(envelopeKeyId(envelope)).toBe(next.id);
        expect(() => decryptCredential(oldKey, { workspaceId, credentialId }, envelope)).toThrow(CredentialDecryptError);
      }
      expect(decryptCredential(next, { workspaceId: 'other', credentialId: 'a' }, (await store.getCredential('other', 'a'))!.ciphertext)).toEqual({ token: 'token-other-a' });
      // Run again (the key file could not be written last time): rows under the new key are kept.
      const before = await ciphertexts(store);
      expect(await rotateSecretKey(store, oldKey, next)).toEqual({ credentials: 3 });
      expect(await ciphertexts(store)).toEqual(before);
    } finally {
      await store.close();
    }
  });

  test('a credential under neither key aborts the rotation: nothing changes', async () => {
    const store = await open();
    try {
      const oldKey = newKey();
      await seed(store, oldKey, 'default', 'good1', { token: 'g1' });
      await seed(store, newKey(), 'default', 'stranger', { token: 's' });
      await seed(store, oldKey, 'default', 'zgood2', { token: 'g2' });
      const before = await ciphertexts(store);
      const error = await rotateSecretKey(store, oldKey, newKey()).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CredentialDecryptError);
      expect((error as Error).message).toContain('"stranger"');
      expect(await ciphertexts(store)).toEqual(before);
    } finally {
      await store.close();
    }
  });

  test('the same key as old and new is refused', async () => {
    const store = await open();
    try {
      const key = newKey();
      await expect(rotateSecretKey(store, key, key)).rejects.toThrow(/same as the old/);
    } finally {
      await store.close();
    }
  });
}

describe('rotateSecretKey [sqlite]', () => {
  const directory = mkdtempSync(join(tmpdir(), 'flowpilot-rotate-'));
  let count = 0;
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  rotationSuite(async () => {
    count += 1;
    const store = new SqliteStore({ filename: join(directory, `db${count}.sqlite`) });
    await store.migrate();
    return store as unknown as TestStore;
  });
});

describePostgres('rotateSecretKey [postgres]', await probePostgres(), () => {
  const schemas: string[] = [];
  afterAll(async () => {
    const admin = await adminClient();
    try {
      for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await admin.end();
    }
  });
  rotationSuite(async () => {
    const schema = randomSchema('fp_rotate');
    schemas.push(schema);
    const store = new PostgresStore({ connectionString: DATABASE_URL, schema });
    await store.migrate();
    return store as unknown as TestStore;
  });
});
