/** The SQL of the SQLite store's access methods (access.ts), prepared once per connection. */
import type Database from 'better-sqlite3';
import type { Statement } from './statements.js';

/** The user's columns under a `u_` prefix, for joins (`toUserRecord(row, 'u_')`). */
const USER_COLUMNS = 'u.id AS u_id, u.email AS u_email, u.name AS u_name, u.password_hash AS u_password_hash, u.created_at AS u_created_at, u.disabled_at AS u_disabled_at';

export function prepareAccessStatements(db: Database.Database) {
  const p = (sql: string): Statement => db.prepare(sql);
  return {
    countUsers: p('SELECT COUNT(*) AS n FROM users'),
    insertUser: p('INSERT INTO users (id, email, name, password_hash, created_at, disabled_at) VALUES (?, ?, ?, ?, ?, ?)'),
    getUser: p('SELECT * FROM users WHERE id = ?'),
    findUserByEmail: p('SELECT * FROM users WHERE email = ?'),
    updateUser: p(
      `UPDATE users SET name = CASE WHEN @set_name THEN @name ELSE name END,
         password_hash = CASE WHEN @set_password THEN @password_hash ELSE password_hash END,
         disabled_at = CASE WHEN @set_disabled THEN @disabled_at ELSE disabled_at END
       WHERE id = @id`,
    ),

    insertWorkspace: p('INSERT INTO workspaces (id, name, created_at, limits) VALUES (?, ?, ?, ?)'),
    getWorkspace: p('SELECT * FROM workspaces WHERE id = ?'),
    setLimits: p('UPDATE workspaces SET limits = ? WHERE id = ?'),
    userWorkspaces: p('SELECT w.*, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = ? ORDER BY m.created_at, m.workspace_id'),

    /** A new member, or a new role for one (the membership keeps its age). */
    putMembership: p(
      `INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role`,
    ),
    getMembership: p('SELECT * FROM memberships WHERE workspace_id = ? AND user_id = ?'),
    listMembers: p(`SELECT m.*, ${USER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = ? ORDER BY m.created_at, m.user_id`),
    deleteMembership: p('DELETE FROM memberships WHERE workspace_id = ? AND user_id = ?'),

    insertInvitation: p(
      `INSERT INTO invitations (workspace_id, id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    findInvitation: p('SELECT * FROM invitations WHERE token_hash = ?'),
    listInvitations: p('SELECT * FROM invitations WHERE workspace_id = ? ORDER BY created_at, id'),
    acceptInvitation: p('UPDATE invitations SET accepted_at = ? WHERE id = ? AND accepted_at IS NULL'),

    insertRefresh: p(
      `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at, revoked_at, replaced_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    findRefresh: p('SELECT * FROM refresh_tokens WHERE token_hash = ?'),
    revokeRefresh: p('UPDATE refresh_tokens SET revoked_at = ?, replaced_by = ? WHERE id = ? AND revoked_at IS NULL'),
    revokeFamily: p('UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL'),

    insertCredential: p(
      `INSERT INTO credentials (workspace_id, id, name, type, ciphertext, created_at, updated_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getCredential: p('SELECT * FROM credentials WHERE workspace_id = ? AND id = ?'),
    listCredentialsByName: p(
      `SELECT * FROM credentials WHERE workspace_id = @ws AND (@type IS NULL OR type = @type) AND (@after IS NULL OR name > @after)
       ORDER BY name LIMIT @limit`,
    ),
    listCredentialsByAge: p(
      `SELECT * FROM credentials WHERE workspace_id = @ws AND (@type IS NULL OR type = @type)
         AND (@after_time IS NULL OR created_at > @after_time OR (created_at = @after_time AND id > @after_id))
       ORDER BY created_at, id LIMIT @limit`,
    ),
    updateCredential: p(
      `UPDATE credentials SET name = COALESCE(@name, name), ciphertext = COALESCE(@ciphertext, ciphertext), updated_at = @at
       WHERE workspace_id = @ws AND id = @id`,
    ),
    deleteCredential: p('DELETE FROM credentials WHERE workspace_id = ? AND id = ?'),
    allCredentials: p('SELECT * FROM credentials ORDER BY workspace_id, id'),
    setCiphertext: p('UPDATE credentials SET ciphertext = ? WHERE workspace_id = ? AND id = ?'),

    insertAudit: p(
      `INSERT INTO audit_log (workspace_id, at, actor_type, actor_id, action, resource_type, resource_id, details)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    /** Newest first; the cursor is the last entry's id. */
    listAudit: p(
      `SELECT * FROM audit_log WHERE workspace_id = @ws
         AND (@action IS NULL OR action = @action) AND (@actor IS NULL OR actor_id = @actor)
         AND (@resource_type IS NULL OR resource_type = @resource_type) AND (@resource_id IS NULL OR resource_id = @resource_id)
         AND (@since IS NULL OR at >= @since) AND (@until IS NULL OR at < @until)
         AND (@before IS NULL OR id < @before)
       ORDER BY id DESC LIMIT @limit`,
    ),

    listKeys: p('SELECT * FROM api_keys WHERE workspace_id = ? ORDER BY created_at, id'),
    getKey: p('SELECT * FROM api_keys WHERE workspace_id = ? AND id = ?'),
    revokeKey: p('UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND id = ? AND revoked_at IS NULL'),
  };
}

export type AccessStatements = ReturnType<typeof prepareAccessStatements>;
