/**
 * The SQL of the PostgreSQL store's access methods (access.ts), mirroring SQLite's
 * (sqlite/access-sql.ts). Names and ids sort and compare with `COLLATE "C"` (byte order, as
 * SQLite's), so both backends list in the same order and cursors agree with the `ORDER BY`.
 */
import { sql } from './sql.js';

/** The user's columns under a `u_` prefix, for joins (`toUserRecord(row, 'u_')`). */
const USER_COLUMNS = 'u.id AS u_id, u.email AS u_email, u.name AS u_name, u.password_hash AS u_password_hash, u.created_at AS u_created_at, u.disabled_at AS u_disabled_at';

export const ACCESS_SQL = {
  countUsers: sql('count_users', 'SELECT COUNT(*)::int AS n FROM users'),
  insertUser: sql(
    'insert_user',
    `INSERT INTO users (id, email, name, password_hash, created_at, disabled_at)
     VALUES (@id, @email, @name, @password_hash, @created::bigint, @disabled::bigint)`,
  ),
  getUser: sql('get_user', 'SELECT * FROM users WHERE id = @id'),
  findUserByEmail: sql('find_user_by_email', 'SELECT * FROM users WHERE email = @email'),
  updateUser: sql(
    'update_user',
    `UPDATE users SET name = CASE WHEN @set_name::int = 1 THEN @name::text ELSE name END,
       password_hash = CASE WHEN @set_password::int = 1 THEN @password_hash::text ELSE password_hash END,
       disabled_at = CASE WHEN @set_disabled::int = 1 THEN @disabled_at::bigint ELSE disabled_at END
     WHERE id = @id`,
  ),

  insertWorkspace: sql('insert_workspace', 'INSERT INTO workspaces (id, name, created_at, limits) VALUES (@id, @name, @created::bigint, @limits)'),
  getWorkspace: sql('get_workspace', 'SELECT * FROM workspaces WHERE id = @id'),
  setLimits: sql('set_workspace_limits', 'UPDATE workspaces SET limits = @limits WHERE id = @id'),
  userWorkspaces: sql(
    'user_workspaces',
    'SELECT w.*, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = @user ORDER BY m.created_at, m.workspace_id COLLATE "C"',
  ),

  /** A new member, or a new role for one (the membership keeps its age). */
  putMembership: sql(
    'put_membership',
    `INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (@ws, @user, @role, @created::bigint)
     ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role`,
  ),
  getMembership: sql('get_membership', 'SELECT * FROM memberships WHERE workspace_id = @ws AND user_id = @user'),
  listMembers: sql(
    'list_members',
    `SELECT m.*, ${USER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = @ws ORDER BY m.created_at, m.user_id COLLATE "C"`,
  ),
  deleteMembership: sql('delete_membership', 'DELETE FROM memberships WHERE workspace_id = @ws AND user_id = @user'),

  insertInvitation: sql(
    'insert_invitation',
    `INSERT INTO invitations (workspace_id, id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at)
     VALUES (@ws, @id, @email, @role, @token_hash, @invited_by, @created::bigint, @expires::bigint, @accepted::bigint)`,
  ),
  findInvitation: sql('find_invitation', 'SELECT * FROM invitations WHERE token_hash = @token_hash'),
  listInvitations: sql('list_invitations', 'SELECT * FROM invitations WHERE workspace_id = @ws ORDER BY created_at, id COLLATE "C"'),
  acceptInvitation: sql('accept_invitation', 'UPDATE invitations SET accepted_at = @at::bigint WHERE id = @id AND accepted_at IS NULL'),

  insertRefresh: sql(
    'insert_refresh_token',
    `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at, revoked_at, replaced_by)
     VALUES (@id, @user, @family, @token_hash, @created::bigint, @expires::bigint, @revoked::bigint, @replaced_by)`,
  ),
  findRefresh: sql('find_refresh_token', 'SELECT * FROM refresh_tokens WHERE token_hash = @token_hash'),
  revokeRefresh: sql(
    'revoke_refresh_token',
    'UPDATE refresh_tokens SET revoked_at = @at::bigint, replaced_by = @replaced_by WHERE id = @id AND revoked_at IS NULL',
  ),
  revokeFamily: sql('revoke_refresh_family', 'UPDATE refresh_tokens SET revoked_at = @at::bigint WHERE family_id = @family AND revoked_at IS NULL'),

  insertCredential: sql(
    'insert_credential',
    `INSERT INTO credentials (workspace_id, id, name, type, ciphertext, created_at, updated_at, created_by)
     VALUES (@ws, @id, @name, @type, @ciphertext, @created::bigint, @updated::bigint, @created_by)`,
  ),
  getCredential: sql('get_credential', 'SELECT * FROM credentials WHERE workspace_id = @ws AND id = @id'),
  listCredentialsByName: sql(
    'list_credentials_by_name',
    `SELECT * FROM credentials WHERE workspace_id = @ws AND (@type::text IS NULL OR type = @type)
       AND (@after::text IS NULL OR name COLLATE "C" > @after)
     ORDER BY name COLLATE "C" LIMIT @limit::int`,
  ),
  listCredentialsByAge: sql(
    'list_credentials_by_age',
    `SELECT * FROM credentials WHERE workspace_id = @ws AND (@type::text IS NULL OR type = @type)
       AND (@after_time::bigint IS NULL OR created_at > @after_time OR (created_at = @after_time AND id COLLATE "C" > @after_id::text))
     ORDER BY created_at, id COLLATE "C" LIMIT @limit::int`,
  ),
  updateCredential: sql(
    'update_credential',
    `UPDATE credentials SET name = COALESCE(@name::text, name), ciphertext = COALESCE(@ciphertext::text, ciphertext), updated_at = @at::bigint
     WHERE workspace_id = @ws AND id = @id`,
  ),
  deleteCredential: sql('delete_credential', 'DELETE FROM credentials WHERE workspace_id = @ws AND id = @id'),
  /**
   * Key rotation, first: no credential is written by anyone else until this transaction ends
   * (EXCLUSIVE still lets readers read), so every row it reads is every row there is.
   */
  lockCredentials: sql('lock_credentials', 'LOCK TABLE credentials IN EXCLUSIVE MODE'),
  allCredentials: sql('all_credentials', 'SELECT * FROM credentials ORDER BY workspace_id COLLATE "C", id COLLATE "C"'),
  setCiphertexts: sql(
    'set_ciphertexts',
    `UPDATE credentials c SET ciphertext = n.ciphertext
     FROM unnest(@ws::text[], @id::text[], @ciphertext::text[]) AS n (workspace_id, id, ciphertext)
     WHERE c.workspace_id = n.workspace_id AND c.id = n.id`,
  ),

  insertAudit: sql(
    'insert_audit',
    `INSERT INTO audit_log (workspace_id, at, actor_type, actor_id, action, resource_type, resource_id, details)
     SELECT e.ws, e.at, e.actor_type, e.actor_id, e.action, e.resource_type, e.resource_id, e.details
     FROM unnest(@ws::text[], @at::bigint[], @actor_type::text[], @actor_id::text[], @action::text[],
       @resource_type::text[], @resource_id::text[], @details::text[])
       WITH ORDINALITY AS e (ws, at, actor_type, actor_id, action, resource_type, resource_id, details, ord)
     ORDER BY e.ord`,
  ),
  /** Newest first; the cursor is the last entry's id. */
  listAudit: sql(
    'list_audit',
    `SELECT * FROM audit_log WHERE workspace_id = @ws
       AND (@action::text IS NULL OR action = @action) AND (@actor::text IS NULL OR actor_id = @actor)
       AND (@resource_type::text IS NULL OR resource_type = @resource_type) AND (@resource_id::text IS NULL OR resource_id = @resource_id)
       AND (@since::bigint IS NULL OR at >= @since) AND (@until::bigint IS NULL OR at < @until)
       AND (@before::bigint IS NULL OR id < @before)
     ORDER BY id DESC LIMIT @limit::int`,
  ),

  listKeys: sql('list_keys', 'SELECT * FROM api_keys WHERE workspace_id = @ws ORDER BY created_at, id COLLATE "C"'),
  getKey: sql('get_key', 'SELECT * FROM api_keys WHERE workspace_id = @ws AND id = @id'),
  revokeKey: sql('revoke_key', 'UPDATE api_keys SET revoked_at = @at::bigint WHERE workspace_id = @ws AND id = @id AND revoked_at IS NULL'),
} as const;
