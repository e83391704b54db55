-- Access control (issue #5): users, workspace members and invitations, refresh tokens, encrypted
-- credentials, the append-only audit log; API keys belong to a user. Users and refresh tokens are
-- global; everything else carries workspace_id.

ALTER TABLE workspaces ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
INSERT OR IGNORE INTO workspaces (id, name, created_at) VALUES ('default', 'Default', 0);

-- Emails are lower-cased by the callers, so UNIQUE is case-insensitive in effect.
CREATE TABLE users (
  id TEXT NOT NULL PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  password_hash TEXT,
  created_at INTEGER NOT NULL,
  disabled_at INTEGER
);

CREATE TABLE memberships (
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  user_id TEXT NOT NULL REFERENCES users (id),
  role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'runner', 'viewer')),
  created_at INTEGER NOT NULL,
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
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  accepted_at INTEGER
);
CREATE INDEX invitations_workspace ON invitations (workspace_id, created_at);

CREATE TABLE refresh_tokens (
  id TEXT NOT NULL PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  family_id TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
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
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  created_by TEXT,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, name)
);
CREATE INDEX credentials_created ON credentials (workspace_id, created_at, id);

-- AUTOINCREMENT: ids only ever increase (the listing's cursor and order).
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id),
  at INTEGER NOT NULL,
  actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
  actor_id TEXT NOT NULL,
  action TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  details TEXT
);
CREATE INDEX audit_log_listing ON audit_log (workspace_id, id);

-- Append-only: the database itself refuses to change or remove an entry.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;

ALTER TABLE api_keys ADD COLUMN user_id TEXT REFERENCES users (id);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, created_at);
