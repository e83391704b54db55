/**
 * The SQLite store's access-control methods (identity-types.ts). `SqliteStore` extends this class,
 * which keeps them in a file of their own: it supplies the connection and its mutex-guarded read
 * and write runners, and the SQL is in access-sql.ts.
 */
import type Database from 'better-sqlite3';
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
import { type AccessStatements, prepareAccessStatements } from './access-sql.js';

export abstract class SqliteAccessStore implements AccessStore {
  #statements: AccessStatements | undefined;

  /** The store's connection. */
  protected abstract get accessDatabase(): Database.Database;
  /** Runs a read alone on the connection (or inside the caller's transaction). */
  protected abstract accessRead<T>(fn: () => T): Promise<T>;
  /** Runs a write in its own immediate transaction (or inside the caller's); a throw rolls it back. */
  protected abstract accessWrite<T>(fn: () => T): Promise<T>;

  get #s(): AccessStatements {
    this.#statements ??= prepareAccessStatements(this.accessDatabase);
    return this.#statements;
  }

  #one<T>(statement: keyof AccessStatements, toRecord: (row: Row) => T, ...params: unknown[]): Promise<T | undefined> {
    return this.accessRead(() => {
      const row = this.#s[statement].get(...params) as Row | undefined;
      return row === undefined ? undefined : toRecord(row);
    });
  }

  #changed(statement: keyof AccessStatements, ...params: unknown[]): Promise<boolean> {
    return this.accessWrite(() => this.#s[statement].run(...params).changes > 0);
  }

  // Users.

  countUsers(): Promise<number> {
    return this.accessRead(() => (this.#s.countUsers.get() as { n: number }).n);
  }

  async createUser(user: UserRecord): Promise<void> {
    await this.accessWrite(() => this.#s.insertUser.run(user.id, user.email, user.name, user.passwordHash ?? null, user.createdAt, user.disabledAt ?? null));
  }

  getUser(id: string): Promise<UserRecord | undefined> {
    return this.#one('getUser', (row) => toUserRecord(row), id);
  }

  findUserByEmail(email: string): Promise<UserRecord | undefined> {
    return this.#one('findUserByEmail', (row) => toUserRecord(row), email);
  }

  updateUser(id: string, patch: Partial<Pick<UserRecord, 'name' | 'passwordHash' | 'disabledAt'>>): Promise<boolean> {
    return this.accessWrite(() => this.#s.updateUser.run({ id, ...userPatchParams(patch) }).changes > 0);
  }

  // Workspaces and members.

  async createWorkspace(workspace: WorkspaceRecord): Promise<void> {
    await this.accessWrite(() => this.#s.insertWorkspace.run(workspace.id, workspace.name, workspace.createdAt, JSON.stringify(workspace.limits)));
  }

  getWorkspace(id: string): Promise<WorkspaceRecord | undefined> {
    return this.#one('getWorkspace', toWorkspaceRecord, id);
  }

  setWorkspaceLimits(id: string, limits: WorkspaceLimits): Promise<boolean> {
    return this.#changed('setLimits', JSON.stringify(limits), id);
  }

  listUserWorkspaces(userId: string): Promise<Array<{ workspace: WorkspaceRecord; role: Role }>> {
    return this.accessRead(() => (this.#s.userWorkspaces.all(userId) as Row[]).map((row) => ({ workspace: toWorkspaceRecord(row), role: row.role as Role })));
  }

  async putMembership(membership: MembershipRecord): Promise<void> {
    await this.accessWrite(() => this.#s.putMembership.run(membership.workspaceId, membership.userId, membership.role, membership.createdAt));
  }

  getMembership(workspaceId: string, userId: string): Promise<MembershipRecord | undefined> {
    return this.#one('getMembership', toMembershipRecord, workspaceId, userId);
  }

  listMembers(workspaceId: string): Promise<Array<MembershipRecord & { user: UserRecord }>> {
    return this.accessRead(() => (this.#s.listMembers.all(workspaceId) as Row[]).map((row) => ({ ...toMembershipRecord(row), user: toUserRecord(row, 'u_') })));
  }

  deleteMembership(workspaceId: string, userId: string): Promise<boolean> {
    return this.#changed('deleteMembership', workspaceId, userId);
  }

  // Invitations and refresh tokens.

  async createInvitation(invitation: InvitationRecord): Promise<void> {
    const { workspaceId, id, email, role, tokenHash, invitedBy, createdAt, expiresAt, acceptedAt } = invitation;
    await this.accessWrite(() => this.#s.insertInvitation.run(workspaceId, id, email, role, tokenHash, invitedBy, createdAt, expiresAt, acceptedAt ?? null));
  }

  findInvitationByTokenHash(tokenHash: string): Promise<InvitationRecord | undefined> {
    return this.#one('findInvitation', toInvitationRecord, tokenHash);
  }

  listInvitations(workspaceId: string): Promise<InvitationRecord[]> {
    return this.accessRead(() => (this.#s.listInvitations.all(workspaceId) as Row[]).map(toInvitationRecord));
  }

  acceptInvitation(id: string, at: number): Promise<boolean> {
    return this.#changed('acceptInvitation', at, id);
  }

  async createRefreshToken(token: RefreshTokenRecord): Promise<void> {
    const { id, userId, familyId, tokenHash, createdAt, expiresAt, revokedAt, replacedBy } = token;
    await this.accessWrite(() => this.#s.insertRefresh.run(id, userId, familyId, tokenHash, createdAt, expiresAt, revokedAt ?? null, replacedBy ?? null));
  }

  findRefreshTokenByHash(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    return this.#one('findRefresh', toRefreshTokenRecord, tokenHash);
  }

  revokeRefreshToken(id: string, at: number, replacedBy?: string): Promise<boolean> {
    return this.#changed('revokeRefresh', at, replacedBy ?? null, id);
  }

  async revokeRefreshFamily(familyId: string, at: number): Promise<void> {
    await this.#changed('revokeFamily', at, familyId);
  }

  // Credentials.

  async createCredential(credential: CredentialRecord): Promise<void> {
    const { workspaceId, id, name, type, ciphertext, createdAt, updatedAt, createdBy } = credential;
    await this.accessWrite(() => this.#s.insertCredential.run(workspaceId, id, name, type, ciphertext, createdAt, updatedAt, createdBy ?? null));
  }

  getCredential(workspaceId: string, id: string): Promise<CredentialRecord | undefined> {
    return this.#one('getCredential', toCredentialRecord, workspaceId, id);
  }

  listCredentials(workspaceId: string, query: ListCredentialsQuery): Promise<Page<CredentialRecord>> {
    return this.accessRead(() => {
      const params = { ws: workspaceId, type: query.type ?? null, limit: query.limit + 1 };
      if (query.order === 'created') {
        const after = decodeCursor(query.cursor, isTimeIdKey);
        const rows = this.#s.listCredentialsByAge.all({ ...params, after_time: after?.[0] ?? null, after_id: after?.[1] ?? null }) as Row[];
        return pageOf(rows, query.limit, toCredentialRecord, (credential) => [credential.createdAt, credential.id]);
      }
      const after = decodeCursor(query.cursor, isIdKey)?.[0] ?? null;
      return pageOf(this.#s.listCredentialsByName.all({ ...params, after }) as Row[], query.limit, toCredentialRecord, (credential) => [credential.name]);
    });
  }

  updateCredential(workspaceId: string, id: string, patch: Partial<Pick<CredentialRecord, 'name' | 'ciphertext'>>, updatedAt: number): Promise<boolean> {
    return this.accessWrite(() => this.#s.updateCredential.run({ ws: workspaceId, id, name: patch.name ?? null, ciphertext: patch.ciphertext ?? null, at: updatedAt }).changes > 0);
  }

  deleteCredential(workspaceId: string, id: string): Promise<boolean> {
    return this.#changed('deleteCredential', workspaceId, id);
  }

  /** Every new envelope is computed before the first row changes; a throw rolls back the transaction anyway. */
  reencryptCredentials(reencrypt: (credential: CredentialRecord) => string): Promise<number> {
    return this.accessWrite(() => {
      const credentials = (this.#s.allCredentials.all() as Row[]).map(toCredentialRecord);
      const envelopes = credentials.map((credential) => reencrypt(credential));
      credentials.forEach((credential, index) => this.#s.setCiphertext.run(envelopes[index], credential.workspaceId, credential.id));
      return credentials.length;
    });
  }

  // Audit log.

  async appendAudit(entry: Omit<AuditEntry, 'id'> | ReadonlyArray<Omit<AuditEntry, 'id'>>): Promise<void> {
    const entries = Array.isArray(entry) ? (entry as ReadonlyArray<Omit<AuditEntry, 'id'>>) : [entry as Omit<AuditEntry, 'id'>];
    if (entries.length === 0) return;
    await this.accessWrite(() => {
      for (const item of entries) {
        const details = item.details === undefined ? null : JSON.stringify(item.details);
        this.#s.insertAudit.run(item.workspaceId, item.at, item.actorType, item.actorId, item.action, item.resourceType, item.resourceId, details);
      }
    });
  }

  listAudit(workspaceId: string, query: ListAuditQuery): Promise<Page<AuditEntry>> {
    return this.accessRead(() => {
      const rows = this.#s.listAudit.all({
        ws: workspaceId,
        action: query.action ?? null,
        actor: query.actorId ?? null,
        resource_type: query.resourceType ?? null,
        resource_id: query.resourceId ?? null,
        since: query.since ?? null,
        until: query.until ?? null,
        before: decodeCursor(query.cursor, isSeqKey)?.[0] ?? null,
        limit: query.limit + 1,
      }) as Row[];
      return pageOf(rows, query.limit, toAuditEntry, (entry) => [entry.id]);
    });
  }

  // API key administration (creating and finding keys is the catalog's).

  listApiKeys(workspaceId: string): Promise<ApiKeyRecord[]> {
    return this.accessRead(() => (this.#s.listKeys.all(workspaceId) as Row[]).map(toApiKeyRecord));
  }

  getApiKey(workspaceId: string, id: string): Promise<ApiKeyRecord | undefined> {
    return this.#one('getKey', toApiKeyRecord, workspaceId, id);
  }

  revokeApiKey(workspaceId: string, id: string, at: number): Promise<boolean> {
    return this.#changed('revokeKey', at, workspaceId, id);
  }
}
