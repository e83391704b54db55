/**
 * The API request rate limit: per API key or user, per IP without credentials (the public routes);
 * over it, 429 problem naming `apiRequestsPerMinute` with `Retry-After`. The workspace's override
 * applies at once. Health endpoints are not limited.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApiKey } from '@flowpilot/server';
import { as, startAuthServer } from './auth-helpers.js';
import { describeBackends, postgresUnavailable, type Backend, type TestServer } from './harness.js';
import { expectJson, expectProblem } from './helpers.js';

/** Asserts the rate limit's 429: Retry-After in seconds within the window, the limit named. */
async function expectRateLimited(response: Response, max: number): Promise<string> {
  const retryAfter = Number(response.headers.get('retry-after'));
  const body = await expectProblem(response, 429, 'RATE_LIMITED');
  expect(body).toMatchObject({ limit: 'apiRequestsPerMinute', max });
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
  return body.detail ?? '';
}

describeBackends('API rate limit', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  /** A fresh admin key of the default workspace: its own budget of requests. */
  const freshKey = async (): Promise<string> => (await createApiKey(t.store, { name: 'rate', scopes: ['admin'] })).key;

  beforeAll(async () => {
    ({ t } = await startAuthServer(backend, { limits: { apiRequestsPerMinute: 5 } }));
  });
  afterAll(() => t?.close());

  test('per API key: the request after the allowed ones answers 429 with Retry-After; another key is not affected', async () => {
    const key = await freshKey();
    for (let index = 0; index < 5; index += 1) await expectJson(await as(t, key, '/api/v1/workflows'), 200);
    const detail = await expectRateLimited(await as(t, key, '/api/v1/workflows'), 5);
    expect(detail).toContain('more than 5 API requests a minute');
    await expectRateLimited(await as(t, key, '/api/v1/runs', { method: 'GET' }), 5);
    await expectJson(await as(t, await freshKey(), '/api/v1/workflows'), 200);
    for (let index = 0; index < 10; index += 1) expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  test('without credentials (login): per client address', async () => {
    const login = (): Promise<Response> => as(t, undefined, '/api/v1/auth/login', { method: 'POST', json: { email: 'nobody@example.com', password: 'wrong password' } });
    for (let index = 0; index < 5; index += 1) expect((await login()).status).toBe(401);
    expect(await expectRateLimited(await login(), 5)).toContain('from this address');
  });

  test("the workspace's own limit applies at once", async () => {
    await expectJson(await as(t, await freshKey(), '/api/v1/workspace/limits', { method: 'PUT', json: { apiRequestsPerMinute: 3 } }), 200);
    const key = await freshKey();
    for (let index = 0; index < 3; index += 1) await expectJson(await as(t, key, '/api/v1/workflows'), 200);
    await expectRateLimited(await as(t, key, '/api/v1/workflows'), 3);
  });
});
