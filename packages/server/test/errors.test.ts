/**
 * Errors are application/problem+json with a stable `code`: 401 without or with a wrong key, 404
 * for unknown ids and routes, 413 over the body limit, 415/400 for bodies that are not JSON, 422
 * with the validator's list for invalid workflows. No malformed request gets a 500.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { createWorkflow, expectProblem, tag, testRegistry } from './helpers.js';

const BODY_LIMIT = 4096;

describeBackends('errors', await postgresUnavailable(), (backend: Backend) => {
  let t: TestServer;
  let workflowId: string;
  beforeAll(async () => {
    t = await startTestServer({ registry: testRegistry(), bodyLimit: BODY_LIMIT }, backend);
    workflowId = await createWorkflow(t, { name: 'Target', nodes: [{ id: 'start', type: 'manual' }], edges: [] });
  });
  afterAll(() => t?.close());

  describe('401', () => {
    test('no key, a wrong key, a malformed header: 401 UNAUTHENTICATED with WWW-Authenticate', async () => {
      const path = `${t.url}/api/v1/workflows`;
      const none = await fetch(path);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      await expectProblem(none, 401, 'UNAUTHENTICATED');
      const wrong = await fetch(path, { headers: { authorization: 'Bearer fp_not_a_key' } });
      expect(wrong.headers.get('www-authenticate')).toContain('invalid_token');
      await expectProblem(wrong, 401, 'UNAUTHENTICATED');
      for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'fp_test_key_for_the_api_suite', '']) {
        await expectProblem(await fetch(path, { headers: { authorization: header } }), 401, 'UNAUTHENTICATED');
      }
    });

    test('every documented route answers 401 without a key, before looking at the request', async () => {
      const document = (await (await t.api('/api/v1/openapi.json')).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
      let checked = 0;
      for (const [path, methods] of Object.entries(document.paths)) {
        for (const [method, operation] of Object.entries(methods)) {
          // Operations documented as public (`security: []`: setup, login, refresh, logout, accepting an invitation).
          if (operation.security?.length === 0) continue;
          const url = `${t.url}${path.replaceAll(/\{[^}]+\}/g, '1')}`;
          const response = await fetch(url, { method: method.toUpperCase(), headers: { 'content-type': 'application/json' }, body: ['post', 'put', 'patch'].includes(method) ? '{' : undefined });
          await expectProblem(response, 401, 'UNAUTHENTICATED');
          checked += 1;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(18);
    });

    test('the WebSocket endpoint needs a key too', async () => {
      await expectProblem(await fetch(`${t.url}/api/v1/ws`), 401, 'UNAUTHENTICATED');
    });
  });

  describe('404', () => {
    test('unknown workflow, version, run and route ids are 404 problems with their own codes', async () => {
      const missing = `missing-${tag()}`;
      const cases: Array<[string, string, string]> = [
        ['GET', `/api/v1/workflows/${missing}`, 'WORKFLOW_NOT_FOUND'],
        ['DELETE', `/api/v1/workflows/${missing}`, 'WORKFLOW_NOT_FOUND'],
        ['GET', `/api/v1/workflows/${missing}/versions`, 'WORKFLOW_NOT_FOUND'],
        ['GET', `/api/v1/workflows/${missing}/versions/1`, 'VERSION_NOT_FOUND'],
        ['GET', `/api/v1/workflows/${workflowId}/versions/99`, 'VERSION_NOT_FOUND'],
        ['GET', `/api/v1/workflows/${missing}/diff?from=1`, 'WORKFLOW_NOT_FOUND'],
        ['POST', `/api/v1/workflows/${missing}/activate`, 'WORKFLOW_NOT_FOUND'],
        ['POST', `/api/v1/workflows/${missing}/deactivate`, 'WORKFLOW_NOT_FOUND'],
        ['POST', `/api/v1/workflows/${missing}/runs`, 'WORKFLOW_NOT_FOUND'],
        ['GET', `/api/v1/workflows/${missing}/events`, 'WORKFLOW_NOT_FOUND'],
        ['GET', `/api/v1/runs/${missing}`, 'RUN_NOT_FOUND'],
        ['GET', `/api/v1/runs/${missing}/events`, 'RUN_NOT_FOUND'],
        ['GET', `/api/v1/runs/${missing}/steps/start/logs`, 'RUN_NOT_FOUND'],
        ['POST', `/api/v1/runs/${missing}/cancel`, 'RUN_NOT_FOUND'],
        ['POST', `/api/v1/runs/${missing}/retry`, 'RUN_NOT_FOUND'],
        ['POST', `/api/v1/runs/${missing}/pause`, 'RUN_NOT_FOUND'],
        ['POST', `/api/v1/runs/${missing}/resume`, 'RUN_NOT_FOUND'],
        ['GET', '/api/v1/nothing-here', 'NOT_FOUND'],
        ['PATCH', '/api/v1/workflows', 'NOT_FOUND'],
        ['GET', '/no/such/page', 'NOT_FOUND'],
        ['POST', `/hooks/${missing}`, 'WEBHOOK_NOT_FOUND'],
      ];
      for (const [method, path, code] of cases) {
        await expectProblem(await t.api(path, { method, ...(method === 'POST' ? { json: {} } : {}) }), 404, code);
      }
    });
  });

  describe('bodies', () => {
    test('a body over the limit is 413 PAYLOAD_TOO_LARGE (API and webhooks)', async () => {
      const big = { name: 'x'.repeat(BODY_LIMIT), nodes: [] };
      await expectProblem(await t.api('/api/v1/workflows', { method: 'POST', json: big }), 413, 'PAYLOAD_TOO_LARGE');
      await expectProblem(await t.api(`/api/v1/workflows/${workflowId}`, { method: 'PUT', json: big }), 413, 'PAYLOAD_TOO_LARGE');
      await expectProblem(await t.api(`/api/v1/workflows/${workflowId}/runs`, { method: 'POST', json: { input: big } }), 413, 'PAYLOAD_TOO_LARGE');
      await expectProblem(await fetch(`${t.url}/hooks/anything-${tag()}`, { method: 'POST', body: 'y'.repeat(BODY_LIMIT + 1) }), 413, 'PAYLOAD_TOO_LARGE');
      // Just under the limit is fine.
      const fits = await t.api('/api/v1/workflows/validate', { method: 'POST', json: { name: 'x'.repeat(BODY_LIMIT - 100), nodes: [] } });
      expect(fits.status).toBe(200);
    });

    test('broken JSON, an empty JSON body, a wrong content type: 4xx problems', async () => {
      const post = (body: RequestInit['body'], contentType?: string) =>
        t.api('/api/v1/workflows', { method: 'POST', body, headers: contentType === undefined ? {} : { 'content-type': contentType } });
      await expectProblem(await post('{"name": ', 'application/json'), 400);
      await expectProblem(await post('', 'application/json'), 400);
      await expectProblem(await post('name=x', 'application/x-www-form-urlencoded'), 415);
      await expectProblem(await post('<workflow/>', 'application/xml'), 415);
      await expectProblem(await post('"just a string"', 'application/json'), 400, 'INVALID_REQUEST');
      await expectProblem(await post('[]', 'application/json'), 400, 'INVALID_REQUEST');
      await expectProblem(await post(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 'application/json'), 422);
      await expectProblem(await post(undefined), 400);
    });

    test('an invalid workflow is 422 WORKFLOW_INVALID listing every validator issue', async () => {
      const response = await t.api('/api/v1/workflows', {
        method: 'POST',
        json: {
          name: 'Broken',
          nodes: [
            { id: 'a', type: 'nope' },
            { id: 'a', type: 'noop' },
            { id: 'bad id', type: 'noop' },
            { id: 'd', type: 'delay', data: { ms: 'soon' } },
          ],
          edges: [{ source: 'a', target: 'ghost' }],
        },
      });
      const body = await expectProblem(response, 422, 'WORKFLOW_INVALID');
      const codes = body.errors!.map((error) => error.code);
      expect(codes).toEqual(expect.arrayContaining(['UNKNOWN_NODE_TYPE', 'DUPLICATE_NODE_ID', 'INVALID_NODE_ID', 'INVALID_PARAMS', 'DANGLING_EDGE']));
      expect(body.errors!.find((error) => error.code === 'INVALID_PARAMS')?.nodeId).toBe('d');
      await expectProblem(await t.api('/api/v1/workflows', { method: 'POST', json: { nodes: 'none' } }), 422, 'WORKFLOW_INVALID');
    });
  });
});
