/** `/api/v1/workflows`: create, list (search, pages), read, versions, diff, delete, validate, activate. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { describeBackends, postgresUnavailable, startTestServer, type Backend, type TestServer } from './harness.js';
import { createWorkflow, expectJson, expectProblem, tag, testRegistry, type Json } from './helpers.js';

interface WorkflowBody {
  id: string;
  name: string;
  version: number;
  active: boolean;
  createdAt: string;
  updatedAt: string;
  definition?: Json;
}

const v1 = (name: string): Json => ({
  name,
  nodes: [
    { id: 'start', type: 'manual' },
    { id: 'a', type: 'set', data: { values: { x: 1 } } },
    { id: 'b', type: 'set', data: { values: { y: 2 } } },
  ],
  edges: [
    { source: 'start', target: 'a' },
    { source: 'a', target: 'b' },
  ],
});

/** v1 with `a` changed, `b` removed, `c` added, and the edges to match. */
const v2 = (name: string): Json => ({
  name,
  nodes: [
    { id: 'start', type: 'manual' },
    { id: 'a', type: 'set', data: { values: { x: 'changed' } } },
    { id: 'c', type: 'noop' },
  ],
  edges: [
    { source: 'start', target: 'a' },
    { source: 'a', target: 'c' },
  ],
});

describeBackends('workflows API', await postgresUnavailable(), (backend: Backend) => {
  describe('workflows', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer({ registry: testRegistry() }, backend);
    });
    afterAll(() => t?.close());

    test('POST creates version 1 (201 {id, version: 1}); GET answers the latest with its definition', async () => {
      const created = await expectJson<WorkflowBody>(await t.api('/api/v1/workflows', { method: 'POST', json: v1('Create me') }), 201);
      expect(created).toMatchObject({ id: expect.any(String), version: 1, name: 'Create me', active: false });
      expect(Date.parse(created.createdAt)).not.toBeNaN();
      const latest = await expectJson<WorkflowBody>(await t.api(`/api/v1/workflows/${created.id}`), 200);
      expect(latest).toMatchObject({ id: created.id, version: 1 });
      expect(latest.definition).toEqual(v1('Create me'));
    });

    test('POST ?id= chooses the id; the same id again is a 409 problem; a bad id is 400', async () => {
      const id = `chosen-${tag()}`;
      expect(await createWorkflow(t, v1('Chosen'), id)).toBe(id);
      await expectProblem(await t.api(`/api/v1/workflows?id=${id}`, { method: 'POST', json: v1('Again') }), 409, 'WORKFLOW_EXISTS');
      await expectProblem(await t.api('/api/v1/workflows?id=has%20space', { method: 'POST', json: v1('Bad id') }), 400, 'INVALID_REQUEST');
    });

    test('list: q searches names and ids case-insensitively; cursor pages cover every match once', async () => {
      const marker = `Search${tag()}`;
      const ids = new Set<string>();
      for (let index = 0; index < 7; index += 1) ids.add(await createWorkflow(t, v1(`${marker} number ${index}`)));
      await createWorkflow(t, v1(`Unrelated ${tag()}`));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const query = new URLSearchParams({ q: marker.toLowerCase(), limit: '3', ...(cursor === undefined ? {} : { cursor }) });
        const page = await expectJson<{ items: WorkflowBody[]; nextCursor?: string }>(await t.api(`/api/v1/workflows?${query}`), 200);
        expect(page.items.length).toBeLessThanOrEqual(3);
        for (const item of page.items) expect(item.name).toContain(marker);
        seen.push(...page.items.map((item) => item.id));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== undefined && pages < 10);
      expect(pages).toBe(3);
      expect(seen.length).toBe(7);
      expect(new Set(seen)).toEqual(ids);
      // Search by id too.
      const [one] = [...ids];
      const byId = await expectJson<{ items: WorkflowBody[] }>(await t.api(`/api/v1/workflows?q=${one!.slice(0, 18)}`), 200);
      expect(byId.items.map((item) => item.id)).toContain(one);
      // Wildcards are literal.
      const wild = await expectJson<{ items: WorkflowBody[] }>(await t.api(`/api/v1/workflows?q=${encodeURIComponent(`${marker}%_`)}`), 200);
      expect(wild.items).toEqual([]);
    });

    test('list: limit caps at 200 (1000 → 400 problem), below 1 or not a number → 400, a forged cursor → 400', async () => {
      await expectJson(await t.api('/api/v1/workflows?limit=200'), 200);
      const tooMany = await expectProblem(await t.api('/api/v1/workflows?limit=1000'), 400, 'INVALID_REQUEST');
      expect(tooMany.errors?.[0]?.path).toContain('limit');
      await expectProblem(await t.api('/api/v1/workflows?limit=0'), 400, 'INVALID_REQUEST');
      await expectProblem(await t.api('/api/v1/workflows?limit=ten'), 400, 'INVALID_REQUEST');
      await expectProblem(await t.api('/api/v1/workflows?cursor=not-a-cursor'), 400, 'INVALID_CURSOR');
    });

    test('PUT saves a new immutable version; versions list and one version; v1 stays as it was', async () => {
      const id = await createWorkflow(t, v1('Versioned'));
      const put = await expectJson<WorkflowBody>(await t.api(`/api/v1/workflows/${id}`, { method: 'PUT', json: v2('Versioned') }), 200);
      expect(put).toMatchObject({ id, version: 2 });
      expect(put.definition).toEqual(v2('Versioned'));
      expect((await expectJson<WorkflowBody>(await t.api(`/api/v1/workflows/${id}`), 200)).version).toBe(2);

      const versions = await expectJson<{ items: Array<{ id: string; version: number; createdAt: string }> }>(await t.api(`/api/v1/workflows/${id}/versions`), 200);
      expect(versions.items.map((item) => item.version).sort()).toEqual([1, 2]);
      for (const item of versions.items) expect(item.id).toBe(id);

      const first = await expectJson<{ version: number; definition: Json }>(await t.api(`/api/v1/workflows/${id}/versions/1`), 200);
      expect(first).toMatchObject({ id, version: 1, definition: v1('Versioned') });
      await expectProblem(await t.api(`/api/v1/workflows/${id}/versions/3`), 404, 'VERSION_NOT_FOUND');
      await expectProblem(await t.api(`/api/v1/workflows/${id}/versions/zero`), 400, 'INVALID_REQUEST');
    });

    test('PUT of an invalid definition is 422 with the validator issues and saves nothing; PUT to an unknown id is 404', async () => {
      const id = await createWorkflow(t, v1('Keep me valid'));
      const bad = { name: 'x', nodes: [{ id: 'a', type: 'set', data: {} }, { id: 'a', type: 'noop' }], edges: [{ source: 'a', target: 'ghost' }] };
      const body = await expectProblem(await t.api(`/api/v1/workflows/${id}`, { method: 'PUT', json: bad }), 422, 'WORKFLOW_INVALID');
      expect(body.errors?.length).toBeGreaterThan(0);
      expect(body.errors?.every((error) => typeof error.code === 'string' && typeof error.message === 'string')).toBe(true);
      expect((await expectJson<WorkflowBody>(await t.api(`/api/v1/workflows/${id}`), 200)).version).toBe(1);
      await expectProblem(await t.api(`/api/v1/workflows/no-such-${tag()}`, { method: 'PUT', json: v1('x') }), 404, 'WORKFLOW_NOT_FOUND');
    });

    test('diff ?from=&to= lists added, removed and changed nodes and edges (to defaults to the latest)', async () => {
      const id = await createWorkflow(t, v1('Diffed'));
      await expectJson(await t.api(`/api/v1/workflows/${id}`, { method: 'PUT', json: v2('Diffed') }), 200);
      const diff = await expectJson<{ from: number; to: number; nodes: Json; edges: Json; fields: string[] }>(await t.api(`/api/v1/workflows/${id}/diff?from=1&to=2`), 200);
      expect(diff).toMatchObject({ from: 1, to: 2, fields: [] });
      expect(diff.nodes).toEqual({ added: ['c'], removed: ['b'], changed: ['a'] });
      expect(diff.edges).toEqual({ added: ['a → c'], removed: ['a → b'], changed: [] });
      const latest = await expectJson<{ to: number; nodes: Json }>(await t.api(`/api/v1/workflows/${id}/diff?from=1`), 200);
      expect(latest.to).toBe(2);
      const back = await expectJson<{ nodes: Json }>(await t.api(`/api/v1/workflows/${id}/diff?from=2&to=1`), 200);
      expect(back.nodes).toEqual({ added: ['b'], removed: ['c'], changed: ['a'] });
      await expectProblem(await t.api(`/api/v1/workflows/${id}/diff?from=1&to=9`), 404, 'VERSION_NOT_FOUND');
      await expectProblem(await t.api(`/api/v1/workflows/${id}/diff`), 400, 'INVALID_REQUEST');
    });

    test('DELETE answers 204, then the workflow is 404 everywhere and gone from the list', async () => {
      const name = `Doomed ${tag()}`;
      const id = await createWorkflow(t, v1(name));
      const deleted = await t.api(`/api/v1/workflows/${id}`, { method: 'DELETE' });
      expect(deleted.status).toBe(204);
      await expectProblem(await t.api(`/api/v1/workflows/${id}`), 404, 'WORKFLOW_NOT_FOUND');
      await expectProblem(await t.api(`/api/v1/workflows/${id}/versions`), 404, 'WORKFLOW_NOT_FOUND');
      await expectProblem(await t.api(`/api/v1/workflows/${id}/runs`, { method: 'POST', json: {} }), 404, 'WORKFLOW_NOT_FOUND');
      await expectProblem(await t.api(`/api/v1/workflows/${id}`, { method: 'DELETE' }), 404, 'WORKFLOW_NOT_FOUND');
      const list = await expectJson<{ items: WorkflowBody[] }>(await t.api(`/api/v1/workflows?q=${encodeURIComponent(name)}`), 200);
      expect(list.items).toEqual([]);
    });

    test('POST /workflows/validate reports errors and warnings without saving anything', async () => {
      const name = `Only validated ${tag()}`;
      const invalid = await expectJson<{ valid: boolean; errors: Array<{ code: string; nodeId?: string }>; warnings: unknown[] }>(
        await t.api('/api/v1/workflows/validate', { method: 'POST', json: { name, nodes: [{ id: 'a', type: 'no_such_type' }], edges: [{ source: 'a', target: 'b' }] } }),
        200,
      );
      expect(invalid.valid).toBe(false);
      expect(invalid.errors.map((error) => error.code)).toContain('UNKNOWN_NODE_TYPE');
      expect(Array.isArray(invalid.warnings)).toBe(true);
      const valid = await expectJson<{ valid: boolean; errors: unknown[] }>(await t.api('/api/v1/workflows/validate', { method: 'POST', json: v1(name) }), 200);
      expect(valid).toMatchObject({ valid: true, errors: [] });
      const garbage = await expectJson<{ valid: boolean; errors: unknown[] }>(await t.api('/api/v1/workflows/validate', { method: 'POST', json: [1, 2, 3] }), 200);
      expect(garbage.valid).toBe(false);
      const list = await expectJson<{ items: WorkflowBody[] }>(await t.api(`/api/v1/workflows?q=${encodeURIComponent(name)}`), 200);
      expect(list.items).toEqual([]);
    });

    test('activate / deactivate flip `active` (and the triggers); unknown ids are 404', async () => {
      const path = `activate-${tag()}`;
      const id = await createWorkflow(t, { name: 'Triggered', nodes: [{ id: 'hook', type: 'webhook', data: { path } }], edges: [] });
      const on = await expectJson<WorkflowBody>(await t.api(`/api/v1/workflows/${id}/activate`, { method: 'POST' }), 200);
      expect(on).toMatchObject({ id, active: true });
      expect((await expectJson<WorkflowBody>(await t.api(`/api/v1/workflows/${id}`), 200)).active).toBe(true);
      expect((await fetch(`${t.url}/hooks/${path}`, { method: 'POST' })).status).toBe(202);
      const off = await expectJson<WorkflowBody>(await t.api(`/api/v1/workflows/${id}/deactivate`, { method: 'POST' }), 200);
      expect(off.active).toBe(false);
      await expectProblem(await fetch(`${t.url}/hooks/${path}`, { method: 'POST' }), 404, 'WEBHOOK_NOT_FOUND');
      await expectProblem(await t.api(`/api/v1/workflows/nope-${tag()}/activate`, { method: 'POST' }), 404, 'WORKFLOW_NOT_FOUND');
    });

    // Suspected cause (PostgreSQL): routes/workflows.ts:30-31 checks for the id, then saves; two
    // requests both pass the check and the second save just adds version 2 (no conflict raised).
    test('concurrent POSTs with one ?id=: one 201, the others 409 problems, never a 500', async () => {
      const id = `race-${tag()}`;
      const responses = await Promise.all(Array.from({ length: 8 }, () => t.api(`/api/v1/workflows?id=${id}`, { method: 'POST', json: v1('Raced') })));
      const statuses = responses.map((response) => response.status).sort();
      const versions = await expectJson<{ items: unknown[] }>(await t.api(`/api/v1/workflows/${id}/versions`), 200);
      expect({ statuses, versions: versions.items.length }).toEqual({ statuses: [201, 409, 409, 409, 409, 409, 409, 409], versions: 1 });
    });

    // Suspected cause (PostgreSQL): the PUT answer's `version` is the workflow's latestVersion read
    // after the save (routes/workflows.ts:66, present.ts:13), not the version this request saved.
    test('concurrent PUTs of one workflow: each answer names the version it saved (2..n), never a 500', async () => {
      const id = await createWorkflow(t, v1('Raced puts'));
      const responses = await Promise.all(Array.from({ length: 6 }, (_, index) => t.api(`/api/v1/workflows/${id}`, { method: 'PUT', json: v1(`Raced puts ${index}`) })));
      const bodies = await Promise.all(responses.map((response) => expectJson<WorkflowBody>(response, 200)));
      const list = await expectJson<{ items: Array<{ version: number }> }>(await t.api(`/api/v1/workflows/${id}/versions`), 200);
      expect(list.items.map((item) => item.version).sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
      for (const body of bodies) {
        const saved = await expectJson<{ definition: Json }>(await t.api(`/api/v1/workflows/${id}/versions/${body.version}`), 200);
        expect(saved.definition, `PUT answered version ${body.version} with "${String(body.definition?.name)}"`).toEqual(body.definition);
      }
      expect(bodies.map((body) => body.version).sort()).toEqual([2, 3, 4, 5, 6, 7]);
    });

    // Suspected cause: DELETE keeps the versions (catalog-types.ts:83) but drops the workflow row, so
    // saving the id again inserts version 1 again: a unique violation in workflow_versions → 500.
    test('POST ?id= of a deleted workflow creates it again or is a 409 problem, never a 500', async () => {
      const id = `reborn-${tag()}`;
      await createWorkflow(t, v1('First life'), id);
      expect((await t.api(`/api/v1/workflows/${id}`, { method: 'DELETE' })).status).toBe(204);
      const again = await t.api(`/api/v1/workflows?id=${id}`, { method: 'POST', json: v1('Second life') });
      if (again.status === 409) {
        await expectProblem(again, 409);
        return;
      }
      const reborn = await expectJson<WorkflowBody>(again, 201);
      expect(reborn.definition).toEqual(v1('Second life'));
      expect((await expectJson<WorkflowBody>(await t.api(`/api/v1/workflows/${id}`), 200)).definition).toEqual(v1('Second life'));
    });

    test('a second workflow claiming an active webhook path is a 409 problem', async () => {
      const path = `taken-${tag()}`;
      const definition = { name: 'Hook', nodes: [{ id: 'hook', type: 'webhook', data: { path } }], edges: [] };
      const first = await createWorkflow(t, definition);
      const second = await createWorkflow(t, definition);
      await expectJson(await t.api(`/api/v1/workflows/${first}/activate`, { method: 'POST' }), 200);
      await expectProblem(await t.api(`/api/v1/workflows/${second}/activate`, { method: 'POST' }), 409, 'WEBHOOK_PATH_TAKEN');
      await expectJson(await t.api(`/api/v1/workflows/${first}/deactivate`, { method: 'POST' }), 200);
    });
  });
});
