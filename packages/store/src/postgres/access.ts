/**
 * The PostgreSQL store's access-control methods (identity-types.ts), mirroring SQLite's
 * (sqlite/access.ts). `PostgresStore` extends this class, which keeps them in a file of their own:
 * it supplies the pool runner, and the SQL is in access-sql.ts. Reads may run again on another
 * connection when theirs died; writes are transactions that never run twice after COMMIT was sent.
 */
import { toAuditEntry, toCredentialRecord, toInvitationRecord, toMembershipRecord, toRefreshTokenRecord, toUserRecord, toWorkspaceRecord, userPatchParams } from '../access-rows.js';
import type { ApiKeyRecord, Page } from '../catalog-types.js';
import { decodeCursor, isIdKey, isSeqKey, isTimeIdKey, pageOf } from '../cursor.js';
import type {
  AccessStore,
  AuditEntry,
  CredentialRecord,
  InvitationRecord,
  ListAuditQuery,
  ListCredentialsQuery,
  MembershipRecord,
  RefreshTokenRecord,
  Role,
  UserRecord,
  WorkspaceLimits,
  WorkspaceRecord,
} from '../identity-types.js';
import { toApiKeyRecord, type Row } from '../rows.js';
import { ACCESS_SQL as A } from './access-sql.js';
import type { PoolRunner } from './runner.js';
import type { Sql } from './sql.js';

export abstract class PgAccessStore implements AccessStore {
  /** The store's pool runner. */
  protected abstract get accessRunner(): PoolRunner;

  #rows(statement: Sql, values: Record<string, unknown>): Promise<Row[]> {
    return this.accessRunner.read(async (exec) => (await exec(statement, values)).rows);
  }

  async #one<T>(statement: Sql, values: Record<string, unknown>, toRecord: (row: Row) => T): Promise<T | undefined> {
    const row = (await this.#rows(statement, values))[0];
    return row === undefined ? undefined : toRecord(row);
  }

  /** A write in its own transaction; how many rows it changed. */
  #write(statement: Sql, values: Record<string, unknown>): Promise<number> {
    return this.accessRunner.write(async (exec) => (await exec(statement, values)).rowCount);
  }

  async #changed(statement: Sql, values: Record<string, unknown>): Promise<boolean> {
    return (await this.#write(statement, values)) > 0;
  }

  // Users.

  async countUsers(): Promise<number> {
    return (await this.#rows(A.countUsers, {}))[0]!.n as number;
  }

  async createUser(user: UserRecord): Promise<void> {
    await this.#write(A.insertUser, { id: user.id, email: user.email, name: user.name, password_hash: user.passwordHash, created: user.createdAt, disabled: user.disabledAt });
  }

  getUser(id: string): Promise<UserRecord | undefined> {
    return this.#one(A.getUser, { id }, (row) => toUserRecord(row));
  }

  findUserByEmail(email: string): Promise<UserRecord | undefined> {
    return this.#one(A.findUserByEmail, { email }, (row) => toUserRecord(row));
  }

  updateUser(id: string, patch: Partial<Pick<UserRecord, 'name' | 'passwordHash' | 'disabledAt'>>): Promise<boolean> {
    return this.#changed(A.updateUser, { id, ...userPatchParams(patch) });
  }

  // Workspaces and members.

  async createWorkspace(workspace: WorkspaceRecord): Promise<void> {
    await this.#write(A.insertWorkspace, { id: workspace.id, name: workspace.name, created: workspace.createdAt, limits: JSON.stringify(workspace.limits) });
  }

  getWorkspace(id: string): Promise<WorkspaceRecord | undefined> {
    return this.#one(A.getWorkspace, { id }, toWorkspaceRecord);
  }

  setWorkspaceLimits(id: string, limits: WorkspaceLimits): Promise<boolean> {
    return this.#changed(A.setLimits, { id, limits: JSON.stringify(limits) });
  }

  async listUserWorkspaces(userId: string): Promise<Array<{ workspace: WorkspaceRecord; role: Role }>> {
    return (await this.#rows(A.userWorkspaces, { user: userId })).map((row) => ({ workspace: toWorkspaceRecord(row), role: row.role as Role }));
  }

  async putMembership(membership: MembershipRecord): Promise<void> {
    await this.#write(A.putMembership, { ws: membership.workspaceId, user: membership.userId, role: membership.role, created: membership.createdAt });
  }

  getMembership(workspaceId: string, userId: string): Promise<MembershipRecord | undefined> {
    return this.#one(A.getMembership, { ws: workspaceId, user: userId }, toMembershipRecord);
  }

  async listMembers(workspaceId: string): Promise<Array<MembershipRecord & { user: UserRecord }>> {
    return (await this.#rows(A.listMembers, { ws: workspaceId })).map((row) => ({ ...toMembershipRecord(row), user: toUserRecord(row, 'u_') }));
  }

  deleteMembership(workspaceId: string, userId: string): Promise<boolean> {
    return this.#changed(A.deleteMembership, { ws: workspaceId, user: userId });
  }

  // Invitations and refresh tokens.

  async createInvitation(invitation: InvitationRecord): Promise<void> {
    const { workspaceId: ws, id, email, role, tokenHash: token_hash, invitedBy: invited_by, createdAt: created, expiresAt: expires, acceptedAt: accepted } = invitation;
    await this.#write(A.insertInvitation, { ws, id, email, role, token_hash, invited_by, created, expires, accepted });
  }

  findInvitationByTokenHash(tokenHash: string): Promise<InvitationRecord | undefined> {
    return this.#one(A.findInvitation, { token_hash: tokenHash }, toInvitationRecord);
  }

  async listInvitations(workspaceId: string): Promise<InvitationRecord[]> {
    return (await this.#rows(A.listInvitations, { ws: workspaceId })).map(toInvitationRecord);
  }

  acceptInvitation(id: string, at: number): Promise<boolean> {
    return this.#changed(A.acceptInvitation, { id, at });
  }

  async createRefreshToken(token: RefreshTokenRecord): Promise<void> {
    const { id, userId: user, familyId: family, tokenHash: token_hash, createdAt: created, expiresAt: expires, revokedAt: revoked, replacedBy: replaced_by } = token;
    await this.#write(A.insertRefresh, { id, user, family, token_hash, created, expires, revoked, replaced_by });
  }

  findRefreshTokenByHash(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    return this.#one(A.findRefresh, { token_hash: tokenHash }, toRefreshTokenRecord);
  }

  revokeRefreshToken(id: string, at: number, replacedBy?: string): Promise<boolean> {
    return this.#changed(A.revokeRefresh, { id, at, replaced_by: replacedBy });
  }

  async revokeRefreshFamily(familyId: string, at: number): Promise<void> {
    await this.#write(A.revokeFamily, { family: familyId, at });
  }

  // Credentials.

  async createCredential(credential: CredentialRecord): Promise<void> {
    const { workspaceId: ws, id, name, type, ciphertext, createdAt: created, updatedAt: updated, createdBy: created_by } = credential;
    await this.#write(A.insertCredential, { ws, id, name, type, ciphertext, created, updated, created_by });
  }

  getCredential(workspaceId: string, id: string): Promise<CredentialRecord | undefined> {
    return this.#one(A.getCredential, { ws: workspaceId, id }, toCredentialRecord);
  }

  async listCredentials(workspaceId: string, query: ListCredentialsQuery): Promise<Page<CredentialRecord>> {
    const params = { ws: workspaceId, type: query.type, limit: query.limit + 1 };
    if (query.order === 'created') {
      const after = decodeCursor(query.cursor, isTimeIdKey);
      const rows = await this.#rows(A.listCredentialsByAge, { ...params, after_time: after?.[0], after_id: after?.[1] });
      return pageOf(rows, query.limit, toCredentialRecord, (credential) => [credential.createdAt, credential.id]);
    }
    const after = decodeCursor(query.cursor, isIdKey)?.[0];
    return pageOf(await this.#rows(A.listCredentialsByName, { ...params, after }), query.limit, toCredentialRecord, (credential) => [credential.name]);
  }

  updateCredential(workspaceId: string, id: string, patch: Partial<Pick<CredentialRecord, 'name' | 'ciphertext'>>, updatedAt: number): Promise<boolean> {
    return this.#changed(A.updateCredential, { ws: workspaceId, id, name: patch.name, ciphertext: patch.ciphertext, at: updatedAt });
  }

  deleteCredential(workspaceId: string, id: string): Promise<boolean> {
    return this.#changed(A.deleteCredential, { ws: workspaceId, id });
  }

  /** One transaction; every new envelope is computed before the one UPDATE, so a throw changes nothing. */
  reencryptCredentials(reencrypt: (credential: CredentialRecord) => string): Promise<number> {
    return this.accessRunner.write(async (exec) => {
      await exec(A.lockCredentials, {});
      const credentials = (await exec(A.allCredentials, {})).rows.map(toCredentialRecord);
      const envelopes = credentials.map((credential) => reencrypt(credential));
      if (credentials.length === 0) return 0;
      await exec(A.setCiphertexts, { ws: credentials.map((c) => c.workspaceId), id: credentials.map((c) => c.id), ciphertext: envelopes });
      return credentials.length;
    });
  }

  // Audit log.

  async appendAudit(entry: Omit<AuditEntry, 'id'> | ReadonlyArray<Omit<AuditEntry, 'id'>>): Promise<void> {
    const entries = Array.isArray(entry) ? (entry as ReadonlyArray<Omit<AuditEntry, 'id'>>) : [entry as Omit<AuditEntry, 'id'>];
    if (entries.length === 0) return;
    // One statement: the entries of a batch commit together, in order.
    await this.#write(A.insertAudit, {
      ws: entries.map((item) => item.workspaceId),
      at: entries.map((item) => item.at),
      actor_type: entries.map((item) => item.actorType),
      actor_id: entries.map((item) => item.actorId),
      action: entries.map((item) => item.action),
      resource_type: entries.map((item) => item.resourceType),
      resource_id: entries.map((item) => item.resourceId),
      details: entries.map((item) => (item.details === undefined ? null : JSON.stringify(item.details))),
    });
  }

  async listAudit(workspaceId: string, query: ListAuditQuery): Promise<Page<AuditEntry>> {
    const rows = await this.#rows(A.listAudit, {
      ws: workspaceId,
      action: query.action,
      actor: query.actorId,
      resource_type: query.resourceType,
      resource_id: query.resourceId,
      since: query.since,
      until: query.until,
      before: decodeCursor(query.cursor, isSeqKey)?.[0],
      limit: query.limit + 1,
    });
    return pageOf(rows, query.limit, toAuditEntry, (entry) => [entry.id]);
  }

  // API key administration (creating and finding keys is the catalog's).

  async listApiKeys(workspaceId: string): Promise<ApiKeyRecord[]> {
    return (await this.#rows(A.listKeys, { ws: workspaceId })).map(toApiKeyRecord);
  }

  getApiKey(workspaceId: string, id: string): Promise<ApiKeyRecord | undefined> {
    return this.#one(A.getKey, { ws: workspaceId, id }, toApiKeyRecord);
  }

  revokeApiKey(workspaceId: string, id: string, at: number): Promise<boolean> {
    return this.#changed(A.revokeKey, { ws: workspaceId, id, at });
  }
}
