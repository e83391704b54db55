/**
 * The SQL of the PostgreSQL store. Parameters are written `@name` and compiled once to `$n`;
 * `bind` turns an object of values into the positional list. Hot statements are named, so each
 * pooled connection prepares them once.
 */

/** A compiled statement: positional text plus the parameter name of each `$n`. */
export interface Sql {
  name: string;
  text: string;
  params: readonly string[];
}

/** Compiles `@name` placeholders to `$1…$n` (a repeated name reuses its number). */
export function sql(name: string, source: string): Sql {
  const params: string[] = [];
  const text = source.replace(/@([A-Za-z_]\w*)/g, (_match, param: string) => {
    let index = params.indexOf(param);
    if (index === -1) index = params.push(param) - 1;
    return `$${index + 1}`;
  });
  return { name: `flowpilot_${name}`, text, params };
}

/** The query config for `statement` with `values` (every parameter must be given; undefined → NULL). */
export function bind(statement: Sql, values: Record<string, unknown>): { name: string; text: string; values: unknown[] } {
  return {
    name: statement.name,
    text: statement.text,
    values: statement.params.map((param) => {
      if (!(param in values)) throw new Error(`${statement.name}: missing parameter @${param}`);
      return values[param] ?? null;
    }),
  };
}

/** The channel `write` notifies (at commit) when it enqueued unleased work. */
export const WORK_CHANNEL = 'flowpilot_work';

/** The channel `write` notifies (at commit) when it appended events: an `EventsNotice` as JSON, plus its `source`. */
export const EVENTS_CHANNEL = 'flowpilot_events';

/** Run columns plus the run's output payload (`output_payload`), joined in one read. */
export const RUN_COLUMNS = `r.*, p.data AS output_payload FROM runs r
  LEFT JOIN payloads p ON p.workspace_id = r.workspace_id AND p.id = r.output_payload_id`;

export const SQL = {
  getWorkflow: sql('get_workflow', 'SELECT * FROM workflows WHERE workspace_id = @ws AND id = @id'),
  lockWorkflow: sql('lock_workflow', 'SELECT * FROM workflows WHERE workspace_id = @ws AND id = @id FOR UPDATE'),
  setConcurrency: sql('set_concurrency', 'UPDATE workflows SET max_concurrent_runs = @limit::int WHERE workspace_id = @ws AND id = @id'),
  /** The version asked for, else the workflow's latest. */
  getVersion: sql(
    'get_version',
    `SELECT * FROM workflow_versions v WHERE v.workspace_id = @ws AND v.workflow_id = @id
       AND v.version = COALESCE(@version::int, (SELECT latest_version FROM workflows w WHERE w.workspace_id = @ws AND w.id = @id))`,
  ),
  /**
   * saveWorkflowVersion, step 1: create the workflow if missing (latest_version 0: no version yet)
   * and lock its row either way (ON CONFLICT DO UPDATE locks, and waits for a concurrent creator).
   */
  lockOrCreateWorkflow: sql(
    'lock_or_create_workflow',
    `INSERT INTO workflows (workspace_id, id, name, latest_version, created_at, updated_at) VALUES (@ws, @id, @name, 0, @now::bigint, @now)
     ON CONFLICT (workspace_id, id) DO UPDATE SET latest_version = workflows.latest_version
     RETURNING latest_version`,
  ),
  /**
   * Step 2, the latest definition to compare with: a statement of its own, so its snapshot (taken
   * after the lock was granted) sees the version a concurrent saver committed.
   */
  latestDefinition: sql('latest_definition', 'SELECT definition, created_at FROM workflow_versions WHERE workspace_id = @ws AND workflow_id = @id AND version = @version::int'),
  /** Step 3 (a new definition): the version row and the workflow's pointer to it. */
  addVersion: sql(
    'add_version',
    `WITH v AS (
       INSERT INTO workflow_versions (workspace_id, workflow_id, version, definition, created_at) VALUES (@ws, @id, @version::int, @definition, @now::bigint)
     )
     UPDATE workflows SET latest_version = @version, name = @name, updated_at = @now WHERE workspace_id = @ws AND id = @id`,
  ),

  getRun: sql('get_run', `SELECT ${RUN_COLUMNS} WHERE r.workspace_id = @ws AND r.id = @id`),
  /**
   * Row locks in id order: two transactions locking overlapping sets cannot deadlock. No join: a
   * row granted after a wait is its newest version, but a joined table would still be read at the
   * statement's older snapshot, so payloads are read after (`payloads`).
   */
  lockRuns: sql('lock_runs', 'SELECT * FROM runs WHERE workspace_id = @ws AND id = ANY(@ids::text[]) ORDER BY id FOR UPDATE'),
  payloads: sql('payloads', 'SELECT id, data FROM payloads WHERE workspace_id = @ws AND id = ANY(@ids::text[])'),
  insertRun: sql(
    'insert_run',
    `INSERT INTO runs (workspace_id, id, workflow_id, version, status, priority, input, created_at, last_seq)
     VALUES (@ws, @id, @workflow, @version::int, 'pending', @priority::int, @input, @created::bigint, 0)`,
  ),
  countRunning: sql(
    'count_running',
    `SELECT COUNT(*)::int AS n FROM runs WHERE workspace_id = @ws AND workflow_id = @id AND status IN ('running', 'waiting')`,
  ),
  nextPending: sql(
    'next_pending',
    `SELECT ${RUN_COLUMNS} WHERE r.workspace_id = @ws AND r.workflow_id = @id AND r.status = 'pending'
     ORDER BY r.priority DESC, r.created_at, r.id LIMIT 1`,
  ),

  getSteps: sql(
    'get_steps',
    `SELECT s.*, p.data AS output_payload FROM steps s
       LEFT JOIN payloads p ON p.workspace_id = s.workspace_id AND p.id = s.output_payload_id
     WHERE s.workspace_id = @ws AND s.run_id = @run ORDER BY s.row_order`,
  ),
  readOutputs: sql(
    'read_outputs',
    `SELECT s.node_id, s.output, s.output_payload_id, p.data AS output_payload FROM steps s
       LEFT JOIN payloads p ON p.workspace_id = s.workspace_id AND p.id = s.output_payload_id
     WHERE s.workspace_id = @ws AND s.run_id = @run AND s.node_id = ANY(@nodes::text[])
       AND (s.output IS NOT NULL OR s.output_payload_id IS NOT NULL)`,
  ),
  /**
   * readEvents in one round trip: kind 'e' rows are the events after @after; kind 'o' rows the
   * stored outputs of the steps those events name (only when one of them carries an output);
   * kind 'i' the run input (only when `run.started` is among them). `decodeEvent` joins them.
   */
  /** `read_events` for several runs (req): their new events, the outputs and inputs those need. */
  readEventsOfRuns: sql(
    'read_events_of_runs',
    `WITH req AS (SELECT * FROM unnest(@ws::text[], @run::text[], @after::int[]) AS r (ws, run, after)),
     ev AS (
       SELECT e.workspace_id AS ws, e.run_id AS run, e.seq, e.type, e.node_id, e.data
       FROM events e JOIN req ON e.workspace_id = req.ws AND e.run_id = req.run AND e.seq > req.after
     )
     SELECT 'e' AS kind, ev.ws, ev.run, ev.seq, ev.node_id, ev.data, NULL AS payload FROM ev
     UNION ALL
     SELECT 'o', s.workspace_id, s.run_id, NULL, s.node_id, s.output, p.data FROM steps s
       JOIN req ON s.workspace_id = req.ws AND s.run_id = req.run
       LEFT JOIN payloads p ON p.workspace_id = s.workspace_id AND p.id = s.output_payload_id
     WHERE (s.output IS NOT NULL OR s.output_payload_id IS NOT NULL)
       AND EXISTS (SELECT 1 FROM ev WHERE ev.ws = s.workspace_id AND ev.run = s.run_id AND ev.node_id = s.node_id AND ev.type IN ('step.succeeded', 'step.waiting'))
     UNION ALL
     SELECT 'i', r.workspace_id, r.id, NULL, NULL, r.input, NULL FROM runs r
       JOIN req ON r.workspace_id = req.ws AND r.id = req.run
     WHERE EXISTS (SELECT 1 FROM ev WHERE ev.ws = r.workspace_id AND ev.run = r.id AND ev.type = 'run.started')`,
  ),
  readEvents: sql(
    'read_events',
    `WITH ev AS (SELECT seq, type, node_id, data FROM events WHERE workspace_id = @ws AND run_id = @run AND seq > @after::int)
     SELECT 'e' AS kind, seq, type, node_id, data, NULL AS payload FROM ev
     UNION ALL
     SELECT 'o', NULL, NULL, s.node_id, s.output, p.data FROM steps s
       LEFT JOIN payloads p ON p.workspace_id = s.workspace_id AND p.id = s.output_payload_id
     WHERE s.workspace_id = @ws AND s.run_id = @run AND (s.output IS NOT NULL OR s.output_payload_id IS NOT NULL)
       AND EXISTS (SELECT 1 FROM ev WHERE ev.type IN ('step.succeeded', 'step.waiting'))
       AND s.node_id IN (SELECT ev.node_id FROM ev WHERE ev.type LIKE 'step.%')
     UNION ALL
     SELECT 'i', NULL, NULL, NULL, r.input, NULL FROM runs r
     WHERE r.workspace_id = @ws AND r.id = @run AND EXISTS (SELECT 1 FROM ev WHERE ev.type = 'run.started')`,
  ),

  releaseLease: sql('release_lease', 'DELETE FROM queue WHERE workspace_id = @ws AND run_id = @run AND node_id = @node AND lease_token = @token'),
  releaseLeases: sql('release_leases', 'DELETE FROM queue WHERE lease_token = ANY(@tokens::text[]) RETURNING lease_token'),
  /**
   * Heartbeat, first pass: extends the leases whose rows nobody else holds (SKIP LOCKED), so it
   * never waits while holding other rows (a committing transaction releasing several leases in
   * another order cannot deadlock with it). Tokens not returned go to `extendLease`.
   */
  extendLeases: sql(
    'extend_leases',
    `WITH held AS (
       SELECT id FROM queue WHERE lease_owner = @owner AND lease_token = ANY(@tokens::text[]) FOR UPDATE SKIP LOCKED
     )
     UPDATE queue q SET lease_expires_at = @expires::bigint FROM held WHERE q.id = held.id RETURNING q.lease_token`,
  ),
  /** Heartbeat, second pass, one row per statement: waits for a row that was busy, holding nothing else. */
  extendLease: sql('extend_lease', 'UPDATE queue SET lease_expires_at = @expires::bigint WHERE lease_owner = @owner AND lease_token = @token'),
  /** Moves eager leases written earlier in the transaction on (unless the lease changed since). */
  shiftLeases: sql(
    'shift_leases',
    `UPDATE queue q SET lease_expires_at = s.to_expires
     FROM unnest(@tokens::text[], @from::bigint[], @to::bigint[]) AS s (token, from_expires, to_expires)
     WHERE q.lease_token = s.token AND q.lease_expires_at = s.from_expires`,
  ),
  /** Timers due by @now and not leased (or whose lease expired), leased for one firing worker. */
  claimTimers: sql(
    'claim_timers',
    `WITH picked AS (
       SELECT workspace_id, run_id, timer_id FROM timers WHERE due_at <= @now::bigint AND lease_expires_at <= @now
       ORDER BY due_at LIMIT @limit::int FOR UPDATE SKIP LOCKED
     )
     UPDATE timers t SET lease_expires_at = @expires::bigint, lease_token = @token::text FROM picked
     WHERE t.workspace_id = picked.workspace_id AND t.run_id = picked.run_id AND t.timer_id = picked.timer_id
     RETURNING t.workspace_id, t.run_id, t.timer_id, t.due_at`,
  ),
  releaseTimer: sql('release_timer', 'DELETE FROM timers WHERE workspace_id = @ws AND run_id = @run AND timer_id = @timer AND lease_token = @token'),
  /** When the earliest timer becomes claimable: a leased one (being fired) counts from its lease's end. */
  nextTimer: sql('next_timer', 'SELECT MIN(GREATEST(due_at, lease_expires_at)) AS due FROM timers'),
  queueDepth: sql('queue_depth', 'SELECT COUNT(*)::int AS n FROM queue WHERE lease_expires_at <= @now::bigint'),
  /**
   * Finished runs older than @before, oldest first, with every row they own, in one statement.
   * SKIP LOCKED: a run some transaction holds (a retry admitting it again) is left for next time.
   */
  pruneRuns: sql(
    'prune_runs',
    `WITH doomed AS (
       SELECT workspace_id, id FROM runs
       WHERE finished_at IS NOT NULL AND finished_at < @before::bigint AND status IN ('succeeded', 'failed', 'cancelled')
       ORDER BY finished_at LIMIT @limit::int FOR UPDATE SKIP LOCKED
     ),
     steps_gone AS (DELETE FROM steps x USING doomed d WHERE x.workspace_id = d.workspace_id AND x.run_id = d.id),
     events_gone AS (DELETE FROM events x USING doomed d WHERE x.workspace_id = d.workspace_id AND x.run_id = d.id),
     queue_gone AS (DELETE FROM queue x USING doomed d WHERE x.workspace_id = d.workspace_id AND x.run_id = d.id),
     timers_gone AS (DELETE FROM timers x USING doomed d WHERE x.workspace_id = d.workspace_id AND x.run_id = d.id),
     payloads_gone AS (DELETE FROM payloads x USING doomed d WHERE x.workspace_id = d.workspace_id AND x.run_id = d.id),
     runs_gone AS (DELETE FROM runs x USING doomed d WHERE x.workspace_id = d.workspace_id AND x.id = d.id RETURNING 1)
     SELECT COUNT(*)::int AS n FROM runs_gone`,
  ),
} as const;
