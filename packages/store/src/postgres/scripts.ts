/**
 * The two hot state transitions of the PostgreSQL store, each ONE statement (one round trip, atomic
 * on its own): a run's write, and a worker's claim. Every part is commented with what it does.
 */
import { sql } from './sql.js';

/**
 * `StoreTransaction.write`: everything one transition of one run changes.
 *
 * A statement may change a row only once and its parts do not see each other's changes, so the
 * caller (`writeParams`) hands over disjoint sets: one entry per step node, per queued node and per
 * timer id; no node both dequeued and enqueued (the enqueue replaces the item); no timer both set
 * and deleted (deleting wins, as it does applied in order).
 *
 * Every part joins `run_row`: when the sequence guard fails, the statement changes nothing and
 * returns ok = 0, and the store throws `SequenceConflictError` with the transaction still usable.
 */
export const WRITE = sql(
  'write',
  `WITH
   -- 1. The guard and the run row, in one UPDATE: last_seq moves from @expected to
   --    @expected + @event_count only if nobody wrote since the writer read it; the run's columns
   --    change when the transition changed the run (@has_run). No row back: a conflict.
   run_row AS (
     UPDATE runs SET
       last_seq = last_seq + @event_count::int,
       status = CASE WHEN @has_run::boolean THEN @status::text ELSE status END,
       output = CASE WHEN @has_run THEN @output::text ELSE output END,
       output_payload_id = CASE WHEN @has_run THEN @output_payload_id::text ELSE output_payload_id END,
       error = CASE WHEN @has_run THEN @error::text ELSE error END,
       started_at = CASE WHEN @has_run THEN COALESCE(@started_at::bigint, started_at) ELSE started_at END,
       finished_at = CASE WHEN @has_run THEN @finished_at::bigint ELSE finished_at END
     WHERE workspace_id = @ws::text AND id = @run::text AND last_seq = @expected::int
     RETURNING id, workflow_id
   ),
   -- 2. The events, numbered @expected + 1, + 2, … (encodeEvent stripped outputs and the input).
   new_events AS (
     INSERT INTO events (workspace_id, run_id, seq, type, node_id, at, data)
     SELECT @ws, @run, @expected + e.ord, e.type, e.node_id, e.at, e.data
     FROM run_row, unnest(@event_type::text[], @event_node::text[], @event_at::bigint[], @event_data::text[])
       WITH ORDINALITY AS e (type, node_id, at, data, ord)
   ),
   -- 3. Outputs over the payload threshold (ids step:<run>:<node> and run:<run>), replaced in place.
   payload_rows AS (
     INSERT INTO payloads (workspace_id, id, run_id, data)
     SELECT @ws, p.id, @run, p.data FROM run_row, unnest(@payload_id::text[], @payload_data::text[]) AS p (id, data)
     ON CONFLICT (workspace_id, id) DO UPDATE SET data = excluded.data
   ),
   -- 4. Step rows, inserted in the given order (row_order) or updated. A write without an output
   --    (output and payload id both NULL: JSON null is the text 'null') keeps the stored output;
   --    started_at keeps the first attempt's start.
   step_rows AS (
     INSERT INTO steps (workspace_id, run_id, node_id, status, attempts, output, output_payload_id, error, started_at, finished_at)
     SELECT @ws, @run, s.node_id, s.status, s.attempts, s.output, s.payload_id, s.error, s.started_at, s.finished_at
     FROM run_row, unnest(@step_node::text[], @step_status::text[], @step_attempts::int[], @step_output::text[],
       @step_payload_id::text[], @step_error::text[], @step_started_at::bigint[], @step_finished_at::bigint[])
       WITH ORDINALITY AS s (node_id, status, attempts, output, payload_id, error, started_at, finished_at, ord)
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
   -- 5. Queue items removed: finished or aborted attempts.
   dequeued AS (
     DELETE FROM queue q USING run_row
     WHERE q.workspace_id = @ws AND q.run_id = @run AND q.node_id = ANY(@dequeue::text[])
   ),
   -- 6. Ready attempts, at the run's priority: always a new item (a fresh id, as an AUTOINCREMENT
   --    insert would get), replacing one the node still had; one leased to the committer at once
   --    carries its lease (claims 1), the others wait for a claim (lease_expires_at 0).
   enqueued AS (
     INSERT INTO queue (workspace_id, run_id, node_id, attempt, inputs, priority, lease_owner, lease_token, lease_expires_at, claims, claimed_at)
     SELECT @ws, @run, q.node_id, q.attempt, q.inputs, @priority::int, q.owner, q.token, q.expires, q.claims, q.claimed_at
     FROM run_row, unnest(@queue_node::text[], @queue_attempt::int[], @queue_inputs::text[], @queue_owner::text[],
       @queue_token::text[], @queue_expires::bigint[], @queue_claims::int[], @queue_claimed_at::bigint[])
       WITH ORDINALITY AS q (node_id, attempt, inputs, owner, token, expires, claims, claimed_at, ord)
     ORDER BY q.ord
     ON CONFLICT (workspace_id, run_id, node_id) DO UPDATE SET
       id = excluded.id, attempt = excluded.attempt, inputs = excluded.inputs, priority = excluded.priority,
       lease_owner = excluded.lease_owner, lease_token = excluded.lease_token, lease_expires_at = excluded.lease_expires_at,
       claims = excluded.claims, claimed_at = excluded.claimed_at
   ),
   -- 7. Durable timers set (re-armed: not leased, so a claim of the old due time no longer holds it) and deleted.
   timers_set AS (
     INSERT INTO timers (workspace_id, run_id, timer_id, due_at, lease_expires_at, lease_token)
     SELECT @ws, @run, t.timer_id, t.due_at, 0, NULL FROM run_row, unnest(@timer_id::text[], @timer_due::bigint[]) AS t (timer_id, due_at)
     ON CONFLICT (workspace_id, run_id, timer_id) DO UPDATE SET due_at = excluded.due_at, lease_expires_at = 0, lease_token = NULL
   ),
   timers_deleted AS (
     DELETE FROM timers t USING run_row
     WHERE t.workspace_id = @ws AND t.run_id = @run AND t.timer_id = ANY(@timers_deleted::text[])
   )
   -- Other processes hear of this write after COMMIT (peer-notifier.ts), not through a NOTIFY here.
   SELECT (SELECT COUNT(*) FROM run_row)::int AS ok, (SELECT workflow_id FROM run_row) AS workflow_id`,
);

/**
 * `Store.claimSteps`: lease up to @limit claimable items, highest priority first, then by run id
 * (run ids are time-ordered UUIDv7: the oldest run's steps first, so started runs finish before
 * new ones start), then oldest item (id).
 */
export const CLAIM = sql(
  'claim',
  `WITH
   -- 1. Candidates in claim order from the two kinds of claimable item: never leased
   --    (lease_expires_at = 0, the partial index queue_ready) and expired leases. FOR UPDATE SKIP
   --    LOCKED: an item another claimer is taking is passed over, never waited for (and never
   --    returned twice: a row claimed since this statement's snapshot fails the recheck).
   fresh AS (
     SELECT id, priority, run_id FROM queue WHERE lease_expires_at = 0
     ORDER BY priority DESC, run_id, id LIMIT @limit::int FOR UPDATE SKIP LOCKED
   ),
   expired AS (
     SELECT id, priority, run_id FROM queue WHERE lease_expires_at <> 0 AND lease_expires_at <= @now::bigint
     ORDER BY priority DESC, run_id, id LIMIT @limit FOR UPDATE SKIP LOCKED
   ),
   picked AS (
     SELECT id FROM (SELECT * FROM fresh UNION ALL SELECT * FROM expired) candidates ORDER BY priority DESC, run_id, id LIMIT @limit
   ),
   -- 2. The lease: owner, a token unique to this claim (owner:id:claims), expiry, claim count and time.
   claimed AS (
     UPDATE queue q SET
       lease_owner = @owner::text,
       lease_token = @owner || ':' || q.id || ':' || (q.claims + 1),
       lease_expires_at = @expires::bigint,
       claims = q.claims + 1,
       claimed_at = @now
     FROM picked WHERE q.id = picked.id
     RETURNING q.id, q.priority, q.workspace_id, q.run_id, q.node_id, q.attempt, q.inputs,
       q.lease_owner, q.lease_token, q.lease_expires_at, q.claims, q.claimed_at
   ),
   -- 3. The claimed steps are running from now (the first attempt's start is kept). SKIP LOCKED
   --    again: a step row another transaction is writing (settling or cancelling that step) is
   --    left to it, so a claim never waits while holding queue rows (no deadlock with commits).
   marking AS (
     SELECT s.workspace_id, s.run_id, s.node_id FROM steps s
       JOIN claimed c ON s.workspace_id = c.workspace_id AND s.run_id = c.run_id AND s.node_id = c.node_id
     FOR UPDATE OF s SKIP LOCKED
   ),
   marked AS (
     UPDATE steps s SET status = 'running', started_at = COALESCE(s.started_at, @now)
     FROM marking m WHERE s.workspace_id = m.workspace_id AND s.run_id = m.run_id AND s.node_id = m.node_id
   )
   -- 4. The claims with their run's workflow, version and input, in claim order.
   SELECT c.*, r.workflow_id, r.version, r.input FROM claimed c
     JOIN runs r ON r.workspace_id = c.workspace_id AND r.id = c.run_id
   ORDER BY c.priority DESC, c.run_id, c.id`,
);
