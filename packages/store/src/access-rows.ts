/** Row → record mapping of the access tables, shared by both backends (their columns are the same). */
import { fromJson } from './codec.js';
import type { ActorType, AuditEntry, CredentialRecord, InvitationRecord, MembershipRecord, RefreshTokenRecord, Role, UserRecord, WorkspaceLimits, WorkspaceRecord } from './identity-types.js';
import type { Row } from './rows.js';

const present = (value: unknown): boolean => value !== null && value !== undefined;

/** A `users` row; `prefix` reads the columns of a join that aliased them (`u_id`, `u_email`, …). */
export function toUserRecord(row: Row, prefix = ''): UserRecord {
  const user: UserRecord = {
    id: row[`${prefix}id`] as string,
    email: row[`${prefix}email`] as string,
    name: row[`${prefix}name`] as string,
    createdAt: row[`${prefix}created_at`] as number,
  };
  if (present(row[`${prefix}password_hash`])) user.passwordHash = row[`${prefix}password_hash`] as string;
  if (present(row[`${prefix}disabled_at`])) user.disabledAt = row[`${prefix}disabled_at`] as number;
  return user;
}

/** A `workspaces` row (`limits` is JSON text). */
export function toWorkspaceRecord(row: Row): WorkspaceRecord {
  return {
    id: row.id as string,
    name: row.name as string,
    createdAt: row.created_at as number,
    limits: fromJson<WorkspaceLimits>(row.limits as string | null) ?? {},
  };
}

export function toMembershipRecord(row: Row): MembershipRecord {
  return { workspaceId: row.workspace_id as string, userId: row.user_id as string, role: row.role as Role, createdAt: row.created_at as number };
}

export function toInvitationRecord(row: Row): InvitationRecord {
  const invitation: InvitationRecord = {
    workspaceId: row.workspace_id as string,
    id: row.id as string,
    email: row.email as string,
    role: row.role as Role,
    tokenHash: row.token_hash as string,
    invitedBy: row.invited_by as string,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
  };
  if (present(row.accepted_at)) invitation.acceptedAt = row.accepted_at as number;
  return invitation;
}

export function toRefreshTokenRecord(row: Row): RefreshTokenRecord {
  const token: RefreshTokenRecord = {
    id: row.id as string,
    userId: row.user_id as string,
    familyId: row.family_id as string,
    tokenHash: row.token_hash as string,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
  };
  if (present(row.revoked_at)) token.revokedAt = row.revoked_at as number;
  if (present(row.replaced_by)) token.replacedBy = row.replaced_by as string;
  return token;
}

export function toCredentialRecord(row: Row): CredentialRecord {
  const credential: CredentialRecord = {
    workspaceId: row.workspace_id as string,
    id: row.id as string,
    name: row.name as string,
    type: row.type as string,
    ciphertext: row.ciphertext as string,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
  if (present(row.created_by)) credential.createdBy = row.created_by as string;
  return credential;
}

export function toAuditEntry(row: Row): AuditEntry {
  const entry: AuditEntry = {
    workspaceId: row.workspace_id as string,
    id: row.id as number,
    at: row.at as number,
    actorType: row.actor_type as ActorType,
    actorId: row.actor_id as string,
    action: row.action as string,
    resourceType: row.resource_type as string,
    resourceId: row.resource_id as string,
  };
  const details = fromJson<Record<string, unknown>>(row.details as string | null);
  if (details !== undefined) entry.details = details;
  return entry;
}

/**
 * Which columns an `updateUser` patch sets: a key present in the patch sets its column, to NULL
 * when its value is undefined (so `{ disabledAt: undefined }` enables a user again).
 */
export function userPatchParams(patch: Partial<Pick<UserRecord, 'name' | 'passwordHash' | 'disabledAt'>>): Record<string, unknown> {
  return {
    set_name: 'name' in patch && patch.name !== undefined ? 1 : 0,
    name: patch.name ?? null,
    set_password: 'passwordHash' in patch ? 1 : 0,
    password_hash: patch.passwordHash ?? null,
    set_disabled: 'disabledAt' in patch ? 1 : 0,
    disabled_at: patch.disabledAt ?? null,
  };
}
