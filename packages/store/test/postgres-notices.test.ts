/** The PostgreSQL store's notification sources and events payloads (no server needed). */
import { describe, expect, it } from 'vitest';
import { fromPeer, newSource, parseEventsPayload } from '../src/postgres/notices.js';

describe('PostgreSQL notifications', () => {
  it('a store hears other stores of its schema (or any, without one), never itself or another schema', () => {
    const self = newSource('alpha');
    expect(self).toMatch(/^alpha\/[0-9a-f-]{36}$/);
    expect(fromPeer(self, self, 'alpha')).toBe(false);
    expect(fromPeer(newSource('alpha'), self, 'alpha')).toBe(true);
    expect(fromPeer(newSource('beta'), self, 'alpha')).toBe(false);
    // A sender without a schema (the connection's search_path), or unknown: news.
    expect(fromPeer(newSource(undefined), self, 'alpha')).toBe(true);
    expect(fromPeer(undefined, self, 'alpha')).toBe(true);
    expect(fromPeer('garbled', self, 'alpha')).toBe(true);
    // A store without a schema hears every schema.
    const plain = newSource(undefined);
    expect(fromPeer(newSource('beta'), plain, undefined)).toBe(true);
    expect(fromPeer(plain, plain, undefined)).toBe(false);
  });

  it('parses an events payload; anything else is not a notice', () => {
    const notice = { workspaceId: 'default', runId: 'r', workflowId: 'wf', seq: 3 };
    expect(parseEventsPayload(JSON.stringify({ source: 'alpha/x', ...notice }))).toEqual({ source: 'alpha/x', notice });
    expect(parseEventsPayload(JSON.stringify({ ...notice, extra: true }))).toEqual({ source: undefined, notice });
    for (const payload of [undefined, '', 'not json', 'null', '42', JSON.stringify({ ...notice, seq: '3' }), JSON.stringify({ ...notice, runId: undefined })]) {
      expect(parseEventsPayload(payload), String(payload)).toBeUndefined();
    }
  });
});
