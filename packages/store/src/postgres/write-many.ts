/**
 * Several runs' writes in ONE statement: `WRITE` (scripts.ts) generalised to a batch. A worker's
 * commit records the transitions of many runs; sent one statement each, their round trips were
 * most of the commit's time. Every row carries the 1-based position (`run`) of its write in the
 * batch; each part joins `run_rows`, the runs whose sequence guard held.
 *
 * The batch holds at most one write per run (a statement may change a row only once): the
 * transaction flushes its buffer before a second write of the same run.
 */
import type { RunWrite } from '../types.js';
import type { Exec } from './queries.js';
import { sql } from './sql.js';
import { writeParams } from './write.js';

export const WRITE_MANY = sql(
  'write_many',
  `WITH
   -- 1. Guards and run rows (see WRITE): only runs whose last_seq is still the expected one.
   run_rows AS (
     UPDATE runs r SET
       last_seq = r.last_seq + u.event_count,
       status = CASE WHEN u.has_run THEN u.status ELSE r.status END,
       output = CASE WHEN u.has_run THEN u.output ELSE r.output END,
       output_payload_id = CASE WHEN u.has_run THEN u.output_payload_id ELSE r.output_payload_id END,
       error = CASE WHEN u.has_run THEN u.error ELSE r.error END,
       started_at = CASE WHEN u.has_run THEN COALESCE(u.started_at, r.started_at) ELSE r.started_at END,
       finished_at = CASE WHEN u.has_run THEN u.finished_at ELSE r.finished_at END
     FROM unnest(@ws::text[], @run::text[], @expected::int[], @event_count::int[], @has_run::boolean[], @status::text[],
       @output::text[], @output_payload_id::text[], @error::text[], @started_at::bigint[], @finished_at::bigint[], @priority::int[])
       WITH ORDINALITY AS u (ws, id, expected, event_count, has_run, status, output, output_payload_id, error, started_at, finished_at, priority, ord)
     WHERE r.workspace_id = u.ws AND r.id = u.id AND r.last_seq = u.expected
     RETURNING u.ord, u.ws, u.id, u.expected, u.priority
   ),
   new_events AS (
     INSERT INTO events (workspace_id, run_id, seq, type, node_id, at, data)
     SELECT rr.ws, rr.id, rr.expected + e.n, e.type, e.node_id, e.at, e.data
     FROM run_rows rr JOIN unnest(@event_run::int[], @event_n::int[], @event_type::text[], @event_node::text[], @event_at::bigint[], @event_data::text[])
       AS e (run, n, type, node_id, at, data) ON e.run = rr.ord
   ),
   payload_rows AS (
     INSERT INTO payloads (workspace_id, id, run_id, data)
     SELECT rr.ws, p.id, rr.id, p.data
     FROM run_rows rr JOIN unnest(@payload_run::int[], @payload_id::text[], @payload_data::text[]) AS p (run, id, data) ON p.run = rr.ord
     ON CONFLICT (workspace_id, id) DO UPDATE SET data = excluded.data
   ),
   step_rows AS (
     INSERT INTO steps (workspace_id, run_id, node_id, status, attempts, output, output_payload_id, error, started_at, finished_at)
     SELECT rr.ws, rr.id, s.node_id, s.status, s.attempts, s.output, s.payload_id, s.error, s.started_at, s.finished_at
     FROM run_rows rr JOIN unnest(@step_run::int[], @step_node::text[], @step_status::text[], @step_attempts::int[], @step_output::text[],
       @step_payload_id::text[], @step_error::text[], @step_started_at::bigint[], @step_finished_at::bigint[])
       WITH ORDINALITY AS s (run, node_id, status, attempts, output, payload_id, error, started_at, finished_at, ord) ON s.run = rr.ord
     ORDER BY s.ord
     ON CONFLICT (workspace_id, run_id, node_id) DO UPDATE SET
       status = excluded.status,
       attempts = excluded.attempts,
       output = CASE WHEN excluded.output IS NULL AND excluded.output_payload_id IS NULL THEN steps.output ELSE excluded.output END,
       output_payload_id = CASE WHEN excluded.output IS NULL AND excluded.output_payload_id IS NULL
         THEN steps.output_payload_id ELSE excluded.output_payload_id END,
       error = excluded.error,
       started_at = COALESCE(steps.started_at, excluded.started_at),
       finished_at = excluded.finished_at
   ),
   dequeued AS (
     DELETE FROM queue q USING run_rows rr, unnest(@dequeue_run::int[], @dequeue_node::text[]) AS d (run, node_id)
     WHERE d.run = rr.ord AND q.workspace_id = rr.ws AND q.run_id = rr.id AND q.node_id = d.node_id
   ),
   enqueued AS (
     INSERT INTO queue (workspace_id, run_id, node_id, attempt, inputs, priority, lease_owner, lease_token, lease_expires_at, claims, claimed_at)
     SELECT rr.ws, rr.id, q.node_id, q.attempt, q.inputs, rr.priority, q.owner, q.token, q.expires, q.claims, q.claimed_at
     FROM run_rows rr JOIN unnest(@queue_run::int[], @queue_node::text[], @queue_attempt::int[], @queue_inputs::text[], @queue_owner::text[],
       @queue_token::text[], @queue_expires::bigint[], @queue_claims::int[], @queue_claimed_at::bigint[])
       WITH ORDINALITY AS q (run, node_id, attempt, inputs, owner, token, expires, claims, claimed_at, ord) ON q.run = rr.ord
     ORDER BY q.ord
     ON CONFLICT (workspace_id, run_id, node_id) DO UPDATE SET
       id = excluded.id, attempt = excluded.attempt, inputs = excluded.inputs, priority = excluded.priority,
       lease_owner = excluded.lease_owner, lease_token = excluded.lease_token, lease_expires_at = excluded.lease_expires_at,
       claims = excluded.claims, claimed_at = excluded.claimed_at
   ),
   timers_set AS (
     INSERT INTO timers (workspace_id, run_id, timer_id, due_at, lease_expires_at, lease_token)
     SELECT rr.ws, rr.id, t.timer_id, t.due_at, 0, NULL
     FROM run_rows rr JOIN unnest(@timer_run::int[], @timer_id::text[], @timer_due::bigint[]) AS t (run, timer_id, due_at) ON t.run = rr.ord
     ON CONFLICT (workspace_id, run_id, timer_id) DO UPDATE SET due_at = excluded.due_at, lease_expires_at = 0, lease_token = NULL
   ),
   timers_deleted AS (
     DELETE FROM timers t USING run_rows rr, unnest(@timers_deleted_run::int[], @timers_deleted::text[]) AS d (run, timer_id)
     WHERE d.run = rr.ord AND t.workspace_id = rr.ws AND t.run_id = rr.id AND t.timer_id = d.timer_id
   )
   SELECT COALESCE(array_agg(ord ORDER BY ord), '{}')::int[] AS written FROM run_rows`,
);

/** Per-run array parameters of `WRITE` and their run-position column in `WRITE_MANY`. */
const ROW_GROUPS: ReadonlyArray<{ run: string; columns: readonly string[] }> = [
  { run: 'payload_run', columns: ['payload_id', 'payload_data'] },
  { run: 'step_run', columns: ['step_node', 'step_status', 'step_attempts', 'step_output', 'step_payload_id', 'step_error', 'step_started_at', 'step_finished_at'] },
  { run: 'dequeue_run', columns: ['dequeue'] },
  { run: 'queue_run', columns: ['queue_node', 'queue_attempt', 'queue_inputs', 'queue_owner', 'queue_token', 'queue_expires', 'queue_claims', 'queue_claimed_at'] },
  { run: 'timer_run', columns: ['timer_id', 'timer_due'] },
  { run: 'timers_deleted_run', columns: ['timers_deleted'] },
];
const RUN_COLUMNS = ['ws', 'run', 'expected', 'event_count', 'has_run', 'status', 'output', 'output_payload_id', 'error', 'started_at', 'finished_at', 'priority'];
const RENAMED: Readonly<Record<string, string>> = { dequeue: 'dequeue_node' };

/**
 * Writes `writes` (distinct runs) in one statement; returns the writes whose guard failed (empty
 * when all were written). Which unleased work they enqueued is the caller's to know.
 */
export async function writeMany(exec: Exec, writes: readonly RunWrite[], threshold: number): Promise<RunWrite[]> {
  const values: Record<string, unknown[]> = {};
  const column = (name: string): unknown[] => (values[name] ??= []);
  for (const name of [...RUN_COLUMNS, 'event_run', 'event_n', 'event_type', 'event_node', 'event_at', 'event_data']) column(name);
  for (const group of ROW_GROUPS) for (const name of [group.run, ...group.columns.map((name) => RENAMED[name] ?? name)]) column(name);
  writes.forEach((write, index) => {
    const position = index + 1;
    const { values: one } = writeParams(write, threshold);
    for (const name of RUN_COLUMNS) column(name).push(one[name] ?? null);
    const types = one.event_type as unknown[];
    types.forEach((type, n) => {
      column('event_run').push(position);
      column('event_n').push(n + 1);
      column('event_type').push(type);
      column('event_node').push((one.event_node as unknown[])[n]);
      column('event_at').push((one.event_at as unknown[])[n]);
      column('event_data').push((one.event_data as unknown[])[n]);
    });
    for (const group of ROW_GROUPS) {
      const first = one[group.columns[0]!] as unknown[];
      first.forEach((_value, row) => {
        column(group.run).push(position);
        for (const name of group.columns) column(RENAMED[name] ?? name).push((one[name] as unknown[])[row]);
      });
    }
  });
  const { rows } = await exec(WRITE_MANY, values);
  const written = new Set((rows[0]?.written as number[] | undefined) ?? []);
  return writes.filter((_write, index) => !written.has(index + 1));
}
