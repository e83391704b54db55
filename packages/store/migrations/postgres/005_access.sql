-- Access control (issue #5): users, workspace members and invitations, refresh tokens, encrypted
-- credentials, the append-only audit log; API keys belong to a user. Users and refresh tokens are
-- global; everything else carries workspace_id. (No 004 here: SQLite's 004 is an index PostgreSQL
-- has had since 001.)

ALTER TABLE workspaces ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
INSERT INTO workspaces (id, name, created_at) VALUES ('default', 'Default', 0) ON CONFLICT (id) DO NOTHING;

-- Emails are lower-cased by the callers, so UNIQUE is case-insensitive in effect.
CREATE TABLE users (
  id TEXT NOT NULL PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  password_hash TEXT,
  created_at BIGINT NOT NULL,
  disabled_at BIGINT
);

CREATE TABLE memberships (
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  user_id TEXT NOT NULL REFERENCES users (id),
  role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'runner', 'viewer')),
  created_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id, created_at);

CREATE TABLE invitations (
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  id TEXT NOT NULL PRIMARY KEY,
  email TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'runner', 'viewer')),
  token_hash TEXT NOT NULL UNIQUE,
  invited_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  accepted_at BIGINT
);
CREATE INDEX invitations_workspace ON invitations (workspace_id, created_at);

CREATE TABLE refresh_tokens (
  id TEXT NOT NULL PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  family_id TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT,
  replaced_by TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Names are unique per workspace; the ciphertext is the vault's envelope, never plain data.
CREATE TABLE credentials (
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  ciphertext TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  created_by TEXT,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, name)
);
CREATE INDEX credentials_created ON credentials (workspace_id, created_at, id);

CREATE TABLE audit_log (
  id BIGSERIAL PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  at BIGINT NOT NULL,
  actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
  actor_id TEXT NOT NULL,
  action TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  details TEXT
);
CREATE INDEX audit_log_listing ON audit_log (workspace_id, id);

-- Append-only: the database itself refuses to change or remove an entry (TRUNCATE included,
-- which skips row triggers).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

ALTER TABLE api_keys ADD COLUMN user_id TEXT REFERENCES users (id);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, created_at);
