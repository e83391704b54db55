-- FlowPilot schema v1 (SQLite). Times are milliseconds since the epoch; JSON is stored as text.
-- Every table carries workspace_id so tenancy never needs a migration of every table.

CREATE TABLE workspaces (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE workflows (
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  latest_version INTEGER NOT NULL,
  max_concurrent_runs INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

CREATE TABLE workflow_versions (
  workspace_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  definition TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, workflow_id, version)
);

CREATE TABLE runs (
  workspace_id TEXT NOT NULL,
  id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  status TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  input TEXT,
  output TEXT,
  output_payload_id TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  last_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX runs_admission ON runs (workspace_id, workflow_id, status, priority DESC, created_at);
CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE steps (
  workspace_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  output TEXT,
  output_payload_id TEXT,
  error TEXT,
  started_at INTEGER,
  finished_at INTEGER,
  PRIMARY KEY (workspace_id, run_id, node_id)
);

CREATE TABLE events (
  workspace_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  node_id TEXT,
  at INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (workspace_id, run_id, seq)
);

-- Ready step attempts. lease_expires_at = 0: not leased; claimable when lease_expires_at <= now.
CREATE TABLE queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  workspace_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  inputs TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_token TEXT,
  lease_expires_at INTEGER NOT NULL DEFAULT 0,
  claims INTEGER NOT NULL DEFAULT 0,
  claimed_at INTEGER,
  UNIQUE (workspace_id, run_id, node_id)
);
CREATE INDEX queue_claimable ON queue (lease_expires_at, priority DESC, id);
CREATE INDEX queue_token ON queue (lease_token);

CREATE TABLE timers (
  workspace_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  timer_id TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  lease_expires_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, run_id, timer_id)
);
CREATE INDEX timers_due ON timers (due_at);

-- Outputs larger than the payload threshold: hot rows stay small.
CREATE TABLE payloads (
  workspace_id TEXT NOT NULL,
  id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX payloads_run ON payloads (workspace_id, run_id);

INSERT INTO workspaces (id, name, created_at) VALUES ('default', 'Default', 0);
