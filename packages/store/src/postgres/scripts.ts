/**
 * A worker's claim: ONE statement (one round trip, atomic on its own). Every part is commented
 * with what it does. The other hot statement, the runs' writes, is `WRITE_MANY` (write-many.ts).
 */
import { sql } from './sql.js';

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
