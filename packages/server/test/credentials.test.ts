/** `/api/v1/credentials` and `/api/v1/credential-types`: CRUD, masking, type validation, levels, audit, no key. */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { decryptCredential, SECRET_MASK, type SecretKey } from '@flowpilot/vault';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { expectJson, expectProblem, tag, testRegistry, type Json } from './helpers.js';
import { createCredential, keyFor, startVaultServer, withKey } from './credentials-helpers.js';

interface CredentialBody {
  id: string;
  name: string;
  type: string;
  createdAt: string;
  updatedAt: string;
  data?: Json;
  error?: { code: string; message: string };
}

const SMTP = { host: 'smtp.example.com', port: 587, secure: false, username: 'mailer', password: 'smtp-secret-Pw-91', from: 'Bot <bot@example.com>' };

describeBackends('credentials API', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let secretKey: SecretKey;
  beforeAll(async () => {
    ({ t, secretKey } = await startVaultServer(backend));
  });
  afterAll(() => t?.close());

  /** The stored data, decrypted with the server's key. */
  const stored = async (id: string, workspaceId = 'default'): Promise<unknown> =>
    decryptCredential(secretKey, { workspaceId, credentialId: id }, (await t.store.getCredential(workspaceId, id))!.ciphertext);

  test('GET /credential-types lists every type with its JSON Schema and secret fields', async () => {
    const body = await expectJson<{ items: Array<{ type: string; title: string; schema: Json; secretFields: string[] }> }>(await t.api('/api/v1/credential-types'), 200);
    expect(body.items.map((item) => item.type)).toEqual(['httpBearer', 'httpBasic', 'httpHeader', 'smtp', 'openai', 'anthropic', 'gemini', 'slack', 'notion', 'googleServiceAccount', 'webhookSecret']);
    const smtp = body.items.find((item) => item.type === 'smtp')!;
    expect(smtp.secretFields).toEqual(['password']);
    expect(smtp.schema).toMatchObject({ type: 'object', properties: { password: { type: 'string', writeOnly: true }, port: { type: 'integer' } } });
  });

  test('POST stores the data encrypted and answers {id, name, type}; GET shows it masked', async () => {
    const name = `mail-${tag()}`;
    const response = await t.api('/api/v1/credentials', { method: 'POST', json: { name, type: 'smtp', data: SMTP } });
    const created = await expectJson<Json>(response, 201);
    expect(Object.keys(created).sort()).toEqual(['id', 'name', 'type']);
    expect(created).toMatchObject({ name, type: 'smtp' });
    const id = created.id as string;
    const row = (await t.store.getCredential('default', id))!;
    expect(row.ciphertext).toMatch(/^v1\.[0-9a-f]{8}\./);
    expect(row.ciphertext).not.toContain(SMTP.password);
    expect(await stored(id)).toEqual(SMTP);
    const text = await (await t.api(`/api/v1/credentials/${id}`)).text();
    expect(text).not.toContain(SMTP.password);
    const body = JSON.parse(text) as CredentialBody;
    expect(body).toMatchObject({ id, name, type: 'smtp', data: { ...SMTP, password: SECRET_MASK } });
    expect(Date.parse(body.createdAt)).not.toBeNaN();
  });

  test('data is validated against the type: 400 problems name the field; unknown types and fields too', async () => {
    const post = (json: Json) => t.api('/api/v1/credentials', { method: 'POST', json });
    const badPort = await expectProblem(await post({ name: `x-${tag()}`, type: 'smtp', data: { ...SMTP, port: 'twenty-five' } }), 400, 'INVALID_CREDENTIAL');
    expect(badPort.errors).toEqual([expect.objectContaining({ path: 'data.port' })]);
    expect(badPort.detail).toContain('data.port');
    const missing = await expectProblem(await post({ name: `x-${tag()}`, type: 'httpBasic', data: { username: 'u' } }), 400, 'INVALID_CREDENTIAL');
    expect(missing.errors?.map((error) => error.path)).toEqual(['data.password']);
    const extra = await expectProblem(await post({ name: `x-${tag()}`, type: 'httpBearer', data: { token: 'secret-tok-1', tokne: 'x' } }), 400, 'INVALID_CREDENTIAL');
    expect(extra.errors?.[0]?.path).toBe('data.tokne');
    const unknown = await expectProblem(await post({ name: `x-${tag()}`, type: 'ftp', data: {} }), 400, 'INVALID_CREDENTIAL');
    expect(unknown.errors?.[0]?.path).toBe('type');
    await expectProblem(await post({ type: 'httpBearer', data: { token: 't' } }), 400, 'INVALID_REQUEST');
    // A rejected value is never echoed back.
    const echoed = await post({ name: `x-${tag()}`, type: 'smtp', data: { ...SMTP, port: 'secret-port-value-42' } });
    expect(await echoed.text()).not.toContain('secret-port-value-42');
  });

  test('names are unique per workspace: 409 CREDENTIAL_EXISTS', async () => {
    const name = `dup-${tag()}`;
    await createCredential(t, 'notion', { token: 'secret_notion_1' }, name);
    await expectProblem(await t.api('/api/v1/credentials', { method: 'POST', json: { name, type: 'notion', data: { token: 'secret_notion_2' } } }), 409, 'CREDENTIAL_EXISTS');
  });

  test('GET /credentials: cursor pages by name, type filter, data masked', async () => {
    const prefix = `page-${tag()}`;
    // A workspace of its own: the listing holds exactly what this test made.
    const key = await keyFor(t, `ws_${tag()}`, ['admin']);
    for (const [index, type] of ['gemini', 'anthropic', 'gemini', 'gemini'].entries()) await createCredential(t, type, { apiKey: `key-${prefix}-${index}` }, `${prefix}-${index}`, key);
    const seen: CredentialBody[] = [];
    let cursor: string | undefined;
    do {
      const page = await expectJson<{ items: CredentialBody[]; nextCursor?: string }>(await withKey(t, key, `/api/v1/credentials?limit=3${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`), 200);
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(seen.map((item) => item.name)).toEqual([0, 1, 2, 3].map((index) => `${prefix}-${index}`));
    expect(seen.map((item) => item.data)).toEqual([0, 1, 2, 3].map(() => ({ apiKey: SECRET_MASK })));
    const gemini = await expectJson<{ items: CredentialBody[] }>(await withKey(t, key, '/api/v1/credentials?type=gemini'), 200);
    expect(gemini.items.map((item) => item.name)).toEqual([0, 2, 3].map((index) => `${prefix}-${index}`));
  });

  test('PUT renames; a secret sent as the mask or omitted is kept, a new one replaces it, null clears an optional one', async () => {
    const id = await createCredential(t, 'slack', { botToken: 'xoxb-original-token', signingSecret: 'signing-original' });
    const put = (json: Json) => t.api(`/api/v1/credentials/${id}`, { method: 'PUT', json });
    const renamed = await expectJson<CredentialBody>(await put({ name: `slack-renamed-${tag()}` }), 200);
    expect(renamed.name).toMatch(/^slack-renamed-/);
    expect(renamed.data).toEqual({ botToken: SECRET_MASK, signingSecret: SECRET_MASK });
    await expectJson(await put({ data: { botToken: SECRET_MASK } }), 200);
    expect(await stored(id)).toEqual({ botToken: 'xoxb-original-token', signingSecret: 'signing-original' });
    await expectJson(await put({ data: { botToken: 'xoxb-new-token', signingSecret: SECRET_MASK } }), 200);
    expect(await stored(id)).toEqual({ botToken: 'xoxb-new-token', signingSecret: 'signing-original' });
    await expectJson(await put({ data: { signingSecret: null } }), 200);
    expect(await stored(id)).toEqual({ botToken: 'xoxb-new-token' });
    const smtp = await createCredential(t, 'smtp', SMTP);
    const changed = await expectJson<CredentialBody>(await t.api(`/api/v1/credentials/${smtp}`, { method: 'PUT', json: { data: { ...SMTP, host: 'mail2.example.com', password: SECRET_MASK, from: null } } }), 200);
    expect(changed.data).toEqual({ host: 'mail2.example.com', port: 587, secure: false, username: 'mailer', password: SECRET_MASK });
    expect(await stored(smtp)).toEqual({ host: 'mail2.example.com', port: 587, secure: false, username: 'mailer', password: SMTP.password });
  });

  test('PUT problems: invalid data 400 naming the field, unknown id 404, empty body 400, type change 400', async () => {
    const id = await createCredential(t, 'smtp', SMTP);
    const invalid = await expectProblem(await t.api(`/api/v1/credentials/${id}`, { method: 'PUT', json: { data: { ...SMTP, port: 70_000 } } }), 400, 'INVALID_CREDENTIAL');
    expect(invalid.errors?.[0]?.path).toBe('data.port');
    expect(await stored(id)).toEqual(SMTP);
    await expectProblem(await t.api('/api/v1/credentials/nope', { method: 'PUT', json: { name: 'x' } }), 404, 'CREDENTIAL_NOT_FOUND');
    await expectProblem(await t.api(`/api/v1/credentials/${id}`, { method: 'PUT', json: {} }), 400, 'INVALID_REQUEST');
    await expectProblem(await t.api(`/api/v1/credentials/${id}`, { method: 'PUT', json: { type: 'httpBearer' } }), 400, 'INVALID_REQUEST');
  });

  test('DELETE answers 204, then the credential is gone (404)', async () => {
    const id = await createCredential(t, 'notion', { token: 'secret_notion_del' });
    expect((await t.api(`/api/v1/credentials/${id}`, { method: 'DELETE' })).status).toBe(204);
    await expectProblem(await t.api(`/api/v1/credentials/${id}`), 404, 'CREDENTIAL_NOT_FOUND');
    await expectProblem(await t.api(`/api/v1/credentials/${id}`, { method: 'DELETE' }), 404, 'CREDENTIAL_NOT_FOUND');
  });

  test('create, update and delete are audited with name and type, never the data', async () => {
    const id = await createCredential(t, 'httpBearer', { token: 'audit-secret-token-5' }, `audited-${tag()}`);
    await expectJson(await t.api(`/api/v1/credentials/${id}`, { method: 'PUT', json: { data: { token: 'audit-secret-token-6' } } }), 200);
    expect((await t.api(`/api/v1/credentials/${id}`, { method: 'DELETE' })).status).toBe(204);
    const entries = (await t.store.listAudit('default', { resourceType: 'credential', resourceId: id, limit: 10 })).items;
    expect(entries.map((entry) => entry.action).sort()).toEqual(['credential.create', 'credential.delete', 'credential.update']);
    expect(entries.every((entry) => entry.actorType === 'api_key' && entry.details?.type === 'httpBearer')).toBe(true);
    expect(entries.find((entry) => entry.action === 'credential.update')?.details).toMatchObject({ changed: ['data'] });
    expect(JSON.stringify(entries)).not.toMatch(/audit-secret-token/);
  });

  test('levels: a read key lists and reads; creating, changing and deleting need write (403)', async () => {
    const id = await createCredential(t, 'notion', { token: 'secret_notion_lvl' });
    const reader = await keyFor(t, 'default', ['read']);
    expect((await withKey(t, reader, '/api/v1/credentials')).status).toBe(200);
    expect((await withKey(t, reader, `/api/v1/credentials/${id}`)).status).toBe(200);
    expect((await withKey(t, reader, '/api/v1/credential-types')).status).toBe(200);
    await expectProblem(await withKey(t, reader, '/api/v1/credentials', { method: 'POST', json: { name: `r-${tag()}`, type: 'notion', data: { token: 'x' } } }), 403, 'FORBIDDEN');
    await expectProblem(await withKey(t, reader, `/api/v1/credentials/${id}`, { method: 'PUT', json: { name: 'x' } }), 403, 'FORBIDDEN');
    await expectProblem(await withKey(t, reader, `/api/v1/credentials/${id}`, { method: 'DELETE' }), 403, 'FORBIDDEN');
    const writer = await keyFor(t, 'default', ['write']);
    await createCredential(t, 'notion', { token: 'secret_by_writer' }, `w-${tag()}`, writer);
  });

  test("another workspace's credential answers 404, and its list does not show it", async () => {
    const id = await createCredential(t, 'notion', { token: 'secret_notion_ws' });
    const outsider = await keyFor(t, `ws_${tag()}`, ['admin']);
    await expectProblem(await withKey(t, outsider, `/api/v1/credentials/${id}`), 404, 'CREDENTIAL_NOT_FOUND');
    await expectProblem(await withKey(t, outsider, `/api/v1/credentials/${id}`, { method: 'PUT', json: { name: 'stolen' } }), 404, 'CREDENTIAL_NOT_FOUND');
    await expectProblem(await withKey(t, outsider, `/api/v1/credentials/${id}`, { method: 'DELETE' }), 404, 'CREDENTIAL_NOT_FOUND');
    expect((await expectJson<{ items: unknown[] }>(await withKey(t, outsider, '/api/v1/credentials'), 200)).items).toEqual([]);
  });
});

describeBackends('credentials API without a secret key', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ registry: testRegistry(), secretKey: undefined }, backend);
  });
  afterAll(() => t?.close());

  test('credential routes answer 503 SECRET_KEY_REQUIRED; the type list still answers', async () => {
    await expectProblem(await t.api('/api/v1/credentials', { method: 'POST', json: { name: 'n', type: 'notion', data: { token: 't' } } }), 503, 'SECRET_KEY_REQUIRED');
    await expectProblem(await t.api('/api/v1/credentials'), 503, 'SECRET_KEY_REQUIRED');
    await expectProblem(await t.api('/api/v1/credentials/x'), 503, 'SECRET_KEY_REQUIRED');
    await expectProblem(await t.api('/api/v1/credentials/x', { method: 'PUT', json: { name: 'n' } }), 503, 'SECRET_KEY_REQUIRED');
    await expectProblem(await t.api('/api/v1/credentials/x', { method: 'DELETE' }), 503, 'SECRET_KEY_REQUIRED');
    expect((await t.api('/api/v1/credential-types')).status).toBe(200);
  });
});
