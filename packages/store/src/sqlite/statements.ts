/** The SQL of the SQLite store, prepared once per connection. */
import type Database from 'better-sqlite3';

/** The slice of better-sqlite3's statement API the store uses (a nameable type for declarations). */
export interface Statement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

export function prepareStatements(db: Database.Database) {
  const p = (sql: string): Statement => db.prepare(sql);
  const insertEvents = new Map<number, Statement>();
  return {
    getWorkflow: p('SELECT * FROM workflows WHERE workspace_id = ? AND id = ?'),
    insertWorkflow: p(
      'INSERT INTO workflows (workspace_id, id, name, latest_version, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)',
    ),
    bumpWorkflow: p('UPDATE workflows SET latest_version = ?, name = ?, updated_at = ? WHERE workspace_id = ? AND id = ?'),
    setConcurrency: p('UPDATE workflows SET max_concurrent_runs = ? WHERE workspace_id = ? AND id = ?'),
    getVersion: p('SELECT * FROM workflow_versions WHERE workspace_id = ? AND workflow_id = ? AND version = ?'),
    insertVersion: p('INSERT INTO workflow_versions (workspace_id, workflow_id, version, definition, created_at) VALUES (?, ?, ?, ?, ?)'),
    getRun: p('SELECT * FROM runs WHERE workspace_id = ? AND id = ?'),
    insertRun: p(
      `INSERT INTO runs (workspace_id, id, workflow_id, version, status, priority, input, created_at, last_seq)
       VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, 0)`,
    ),
    countRunning: p(`SELECT COUNT(*) AS n FROM runs WHERE workspace_id = ? AND workflow_id = ? AND status IN ('running', 'waiting')`),
    nextPending: p(
      `SELECT * FROM runs WHERE workspace_id = ? AND workflow_id = ? AND status = 'pending' ORDER BY priority DESC, created_at, id LIMIT 1`,
    ),
    bumpSeq: p('UPDATE runs SET last_seq = ? WHERE workspace_id = ? AND id = ? AND last_seq = ?'),
    updateRun: p(
      `UPDATE runs SET last_seq = ?, status = ?, output = ?, output_payload_id = ?, error = ?, started_at = COALESCE(?, started_at), finished_at = ?
       WHERE workspace_id = ? AND id = ? AND last_seq = ?`,
    ),
    /** `INSERT INTO events` of `rows` rows (prepared once per row count). */
    insertEvents: (rows: number): Statement => {
      let statement = insertEvents.get(rows);
      if (statement === undefined) {
        statement = p(`INSERT INTO events (workspace_id, run_id, seq, type, node_id, at, data) VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`);
        insertEvents.set(rows, statement);
      }
      return statement;
    },
    readEvents: p('SELECT seq, type, data FROM events WHERE workspace_id = ? AND run_id = ? AND seq > ? ORDER BY seq'),
    upsertStep: p(
      `INSERT INTO steps (workspace_id, run_id, node_id, status, attempts, output, output_payload_id, error, started_at, finished_at)
       VALUES (@ws, @run, @node, @status, @attempts, @output, @payload, @error, @startedAt, @finishedAt)
       ON CONFLICT (workspace_id, run_id, node_id) DO UPDATE SET
         status = excluded.status, attempts = excluded.attempts,
         output = CASE WHEN @keepOutput THEN steps.output ELSE excluded.output END,
         output_payload_id = CASE WHEN @keepOutput THEN steps.output_payload_id ELSE excluded.output_payload_id END,
         error = excluded.error, started_at = COALESCE(steps.started_at, excluded.started_at), finished_at = excluded.finished_at`,
    ),
    getSteps: p('SELECT * FROM steps WHERE workspace_id = ? AND run_id = ? ORDER BY rowid'),
    stepOutputs: p('SELECT node_id, output, output_payload_id FROM steps WHERE workspace_id = ? AND run_id = ? AND (output IS NOT NULL OR output_payload_id IS NOT NULL)'),
    upsertPayload: p(
      'INSERT INTO payloads (workspace_id, id, run_id, data) VALUES (?, ?, ?, ?) ON CONFLICT (workspace_id, id) DO UPDATE SET data = excluded.data',
    ),
    getPayload: p('SELECT data FROM payloads WHERE workspace_id = ? AND id = ?'),
    // REPLACE: a node that still has an item gets a new one (a fresh id), so a lease token
    // (owner:id:claims) is never minted twice.
    enqueue: p(
      `REPLACE INTO queue (workspace_id, run_id, node_id, attempt, inputs, priority, lease_owner, lease_token, lease_expires_at, claims, claimed_at)
       VALUES (@ws, @run, @node, @attempt, @inputs, @priority, @owner, @token, @expires, @claims, @claimedAt)`,
    ),
    dequeue: p('DELETE FROM queue WHERE workspace_id = ? AND run_id = ? AND node_id = ?'),
    releaseLease: p('DELETE FROM queue WHERE workspace_id = ? AND run_id = ? AND node_id = ? AND lease_token = ?'),
    releaseLeaseByToken: p('DELETE FROM queue WHERE lease_token = ?'),
    markRunning: p(
      `UPDATE steps SET status = 'running', started_at = COALESCE(started_at, ?) WHERE workspace_id = ? AND run_id = ? AND node_id = ?`,
    ),
    claim: p(
      `UPDATE queue SET lease_owner = @owner, lease_token = @owner || ':' || id || ':' || (claims + 1),
         lease_expires_at = @expires, claims = claims + 1, claimed_at = @now
       WHERE id IN (SELECT id FROM queue WHERE lease_expires_at <= @now ORDER BY priority DESC, run_id, id LIMIT @limit)
       RETURNING id, priority, workspace_id, run_id, node_id, attempt, inputs, lease_owner, lease_token, lease_expires_at, claims, claimed_at`,
    ),
    anyClaimable: p('SELECT 1 FROM queue WHERE lease_expires_at <= ? LIMIT 1'),
    shiftLease: p('UPDATE queue SET lease_expires_at = ? WHERE lease_token = ? AND lease_expires_at = ?'),
    extendLease: p('UPDATE queue SET lease_expires_at = ? WHERE lease_token = ? AND lease_owner = ?'),
    upsertTimer: p(
      `INSERT INTO timers (workspace_id, run_id, timer_id, due_at, lease_expires_at, lease_token) VALUES (?, ?, ?, ?, 0, NULL)
       ON CONFLICT (workspace_id, run_id, timer_id) DO UPDATE SET due_at = excluded.due_at, lease_expires_at = 0, lease_token = NULL`,
    ),
    deleteTimer: p('DELETE FROM timers WHERE workspace_id = ? AND run_id = ? AND timer_id = ?'),
    claimTimers: p(
      `UPDATE timers SET lease_expires_at = @expires, lease_token = @token
       WHERE rowid IN (SELECT rowid FROM timers WHERE due_at <= @now AND lease_expires_at <= @now ORDER BY due_at LIMIT @limit)
       RETURNING workspace_id, run_id, timer_id, due_at`,
    ),
    // When the earliest timer becomes claimable: a leased one (being fired) counts from its lease's end.
    releaseTimer: p('DELETE FROM timers WHERE workspace_id = ? AND run_id = ? AND timer_id = ? AND lease_token = ?'),
    nextTimer: p('SELECT MIN(MAX(due_at, lease_expires_at)) AS due FROM timers'),
    queueDepth: p('SELECT COUNT(*) AS n FROM queue WHERE lease_expires_at <= ?'),
    prunable: p(`SELECT workspace_id, id FROM runs WHERE finished_at IS NOT NULL AND finished_at < ? AND status IN ('succeeded', 'failed', 'cancelled') ORDER BY finished_at LIMIT ?`),
    deleteRunRows: ['steps', 'events', 'queue', 'timers', 'payloads'].map((table) => p(`DELETE FROM ${table} WHERE workspace_id = ? AND run_id = ?`)),
    deleteRun: p('DELETE FROM runs WHERE workspace_id = ? AND id = ?'),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
