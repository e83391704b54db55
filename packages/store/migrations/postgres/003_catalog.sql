-- The API's catalog: active workflows, API keys, webhook routes and schedules.

ALTER TABLE workflows ADD COLUMN active BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE api_keys (
  workspace_id TEXT NOT NULL,
  id TEXT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at BIGINT
);

-- A URL is global: one route per method and path, whatever the workspace.
CREATE TABLE webhooks (
  workspace_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  mode TEXT NOT NULL,
  secret TEXT,
  timeout_ms INTEGER NOT NULL,
  PRIMARY KEY (method, path)
);
CREATE INDEX webhooks_workflow ON webhooks (workspace_id, workflow_id);

CREATE TABLE schedules (
  workspace_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  cron TEXT NOT NULL,
  timezone TEXT,
  catch_up TEXT NOT NULL,
  next_fire_at BIGINT,
  last_fired_at BIGINT,
  PRIMARY KEY (workspace_id, workflow_id, node_id)
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;

CREATE INDEX runs_listing ON runs (workspace_id, created_at DESC, id DESC);
