/**
 * The access part of the store: users, workspaces and their members, invitations, refresh tokens,
 * API keys, encrypted credentials and the audit log.
 *
 * Glossary:
 * - **user**: a person who logs in with an email and a password (stored as a scrypt hash).
 * - **workspace**: the unit of tenancy. Every workflow, run, credential, key, schedule, event and
 *   audit entry belongs to exactly one; the embedded default is {@link DEFAULT_WORKSPACE_ID}.
 * - **membership**: a user's {@link Role} in one workspace.
 * - **invitation**: an offer of a role in a workspace to an email address, accepted with a one-time
 *   token (only its SHA-256 is stored).
 * - **refresh token**: a long-lived, one-time token that buys a new short-lived access token (JWT).
 *   Refreshing replaces it; tokens of one login form a *family*, revoked together when a replaced
 *   token is used again (theft detection).
 * - **credential**: a typed secret (an API token, an SMTP login…) stored encrypted; the store only
 *   ever sees the ciphertext envelope the vault produced.
 * - **audit entry**: one append-only line of who did what to which resource, and when.
 */
import type { ApiKeyRecord, Page } from './catalog-types.js';

/** Roles in a workspace, from most to least privileged. */
export const ROLES = ['owner', 'editor', 'runner', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface UserRecord {
  id: string;
  /** Lower-cased; unique. */
  email: string;
  name: string;
  /** scrypt hash in PHC-like form; undefined for a user who has not set one. */
  passwordHash?: string;
  createdAt: number;
  disabledAt?: number;
}

/**
 * Per-workspace limits; an absent field means the server's default (configurable) applies.
 */
export interface WorkspaceLimits {
  /** Runs of the workspace that may be queued or running at once. */
  maxConcurrentRuns?: number;
  /** A run still going after this long fails (its timeout is the smaller of this and the workflow's). */
  maxRunDurationMs?: number;
  /** Largest run input (bytes of JSON). */
  maxPayloadBytes?: number;
  /** Most steps one run may execute (nodes, plus iterations of forEach/loop bodies and sub-workflows). */
  maxStepsPerRun?: number;
  /** API requests per minute per API key (or per IP when unauthenticated). */
  apiRequestsPerMinute?: number;
}

export interface WorkspaceRecord {
  id: string;
  name: string;
  createdAt: number;
  limits: WorkspaceLimits;
}

export interface MembershipRecord {
  workspaceId: string;
  userId: string;
  role: Role;
  createdAt: number;
}

export interface InvitationRecord {
  workspaceId: string;
  id: string;
  /** Lower-cased. */
  email: string;
  role: Role;
  /** SHA-256 (hex) of the one-time token. */
  tokenHash: string;
  invitedBy: string;
  createdAt: number;
  expiresAt: number;
  acceptedAt?: number;
}

export interface RefreshTokenRecord {
  id: string;
  userId: string;
  /** Tokens of one login; a replaced token used again revokes the whole family. */
  familyId: string;
  /** SHA-256 (hex) of the token. */
  tokenHash: string;
  createdAt: number;
  expiresAt: number;
  revokedAt?: number;
  /** Set when refreshing replaced this token by another. */
  replacedBy?: string;
}

export interface CredentialRecord {
  workspaceId: string;
  id: string;
  name: string;
  /** A credential type name (`httpBearer`, `smtp`, …). */
  type: string;
  /** The vault's envelope: key id, IV, tag and ciphertext. Never the plain data. */
  ciphertext: string;
  createdAt: number;
  updatedAt: number;
  createdBy?: string;
}

/** Who did something: a user (through a JWT), an API key, or FlowPilot itself (schedules, webhooks). */
export type ActorType = 'user' | 'api_key' | 'system';

export interface AuditEntry {
  workspaceId: string;
  /** Assigned by the store, increasing. */
  id: number;
  at: number;
  actorType: ActorType;
  actorId: string;
  /** `resource.verb`: `workflow.create`, `run.cancel`, `credential.delete`, `member.invite`, … */
  action: string;
  resourceType: string;
  resourceId: string;
  /** Small structured details (never secret values). */
  details?: Record<string, unknown>;
}

export interface ListAuditQuery {
  action?: string;
  actorId?: string;
  resourceType?: string;
  resourceId?: string;
  /** Entries at or after this time (ms). */
  since?: number;
  /** Entries before this time (ms). */
  until?: number;
  cursor?: string;
  limit: number;
}

export interface ListCredentialsQuery {
  type?: string;
  /** `name` (default): by name in byte order; `created`: oldest first. A cursor only fits the order it came from. */
  order?: 'name' | 'created';
  cursor?: string;
  limit: number;
}

/** Users, workspaces, memberships, invitations and refresh tokens. */
export interface IdentityStore {
  countUsers(): Promise<number>;
  /** Throws a unique-violation error (mapped to 409 by the API) when the email is taken. */
  createUser(user: UserRecord): Promise<void>;
  getUser(id: string): Promise<UserRecord | undefined>;
  findUserByEmail(email: string): Promise<UserRecord | undefined>;
  updateUser(id: string, patch: Partial<Pick<UserRecord, 'name' | 'passwordHash' | 'disabledAt'>>): Promise<boolean>;

  createWorkspace(workspace: WorkspaceRecord): Promise<void>;
  getWorkspace(id: string): Promise<WorkspaceRecord | undefined>;
  setWorkspaceLimits(id: string, limits: WorkspaceLimits): Promise<boolean>;
  /** The workspaces the user is a member of, with the role, oldest membership first. */
  listUserWorkspaces(userId: string): Promise<Array<{ workspace: WorkspaceRecord; role: Role }>>;

  /** Adds the member or changes their role. */
  putMembership(membership: MembershipRecord): Promise<void>;
  getMembership(workspaceId: string, userId: string): Promise<MembershipRecord | undefined>;
  listMembers(workspaceId: string): Promise<Array<MembershipRecord & { user: UserRecord }>>;
  deleteMembership(workspaceId: string, userId: string): Promise<boolean>;

  createInvitation(invitation: InvitationRecord): Promise<void>;
  findInvitationByTokenHash(tokenHash: string): Promise<InvitationRecord | undefined>;
  listInvitations(workspaceId: string): Promise<InvitationRecord[]>;
  /** Marks it accepted; false when it was already accepted (one use only). */
  acceptInvitation(id: string, at: number): Promise<boolean>;

  createRefreshToken(token: RefreshTokenRecord): Promise<void>;
  findRefreshTokenByHash(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /** Revokes one token (false when it was already revoked: a reuse). */
  revokeRefreshToken(id: string, at: number, replacedBy?: string): Promise<boolean>;
  revokeRefreshFamily(familyId: string, at: number): Promise<void>;
}

/** Encrypted credentials; the store never sees plain values. */
export interface CredentialStore {
  createCredential(credential: CredentialRecord): Promise<void>;
  getCredential(workspaceId: string, id: string): Promise<CredentialRecord | undefined>;
  listCredentials(workspaceId: string, query: ListCredentialsQuery): Promise<Page<CredentialRecord>>;
  updateCredential(workspaceId: string, id: string, patch: Partial<Pick<CredentialRecord, 'name' | 'ciphertext'>>, updatedAt: number): Promise<boolean>;
  deleteCredential(workspaceId: string, id: string): Promise<boolean>;
  /**
   * Re-encrypts every credential in one transaction (key rotation): `reencrypt` gets each row and
   * returns its new envelope. All rows change or none do.
   */
  reencryptCredentials(reencrypt: (credential: CredentialRecord) => string): Promise<number>;
}

/** The append-only audit log (the schema refuses updates and deletes). */
export interface AuditStore {
  /** Appends one entry, or several in one transaction (in order). */
  appendAudit(entry: Omit<AuditEntry, 'id'> | ReadonlyArray<Omit<AuditEntry, 'id'>>): Promise<void>;
  listAudit(workspaceId: string, query: ListAuditQuery): Promise<Page<AuditEntry>>;
}

/** API key operations beyond the catalog's create/find/touch. */
export interface ApiKeyAdminStore {
  listApiKeys(workspaceId: string): Promise<ApiKeyRecord[]>;
  getApiKey(workspaceId: string, id: string): Promise<ApiKeyRecord | undefined>;
  /** False when there is no such key or it was already revoked. */
  revokeApiKey(workspaceId: string, id: string, at: number): Promise<boolean>;
}

/** Everything access control needs of a store. */
export type AccessStore = IdentityStore & CredentialStore & AuditStore & ApiKeyAdminStore;
