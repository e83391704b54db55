/** Creating users: shared by first-start setup, accepting an invitation and `flowpilot users create`. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Role, UserRecord } from '@flowpilot/store';
import { HttpProblem } from '../problems.js';
import type { ServerStore } from '../server-store.js';
import { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.js';

/** Emails are compared lower-cased and trimmed. */
export const emailSchema = z.email().max(254).transform((email) => normalizeEmail(email));
export const passwordSchema = z.string().min(MIN_PASSWORD_LENGTH, `at least ${MIN_PASSWORD_LENGTH} characters`).max(MAX_PASSWORD_LENGTH);
export const userNameSchema = z.string().trim().min(1).max(200);

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** What is wrong with a new user's email, password and name (for the CLI), or undefined. */
export function checkNewUser(input: { email: string; password: string; name?: string }): string | undefined {
  const issues: string[] = [];
  if (!emailSchema.safeParse(input.email).success) issues.push(`email "${input.email}" is not a valid email address`);
  const password = passwordSchema.safeParse(input.password);
  if (!password.success) issues.push(`password: ${password.error.issues[0]?.message ?? 'invalid'}`);
  if (input.name !== undefined && !userNameSchema.safeParse(input.name).success) issues.push('name: 1 to 200 characters');
  return issues.length === 0 ? undefined : issues.join('; ');
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Creates a user (and, with `membership`, makes them a member): 409 `EMAIL_TAKEN` when the email is
 * in use. The password is hashed here; the name defaults to the email's local part.
 */
export async function createUserAccount(
  store: ServerStore,
  input: { email: string; password: string; name?: string; now: number },
  membership?: { workspaceId: string; role: Role },
): Promise<UserRecord> {
  const email = normalizeEmail(input.email);
  if ((await store.findUserByEmail(email)) !== undefined) throw new HttpProblem(409, 'EMAIL_TAKEN', `a user with email "${email}" exists`);
  const user: UserRecord = {
    id: randomUUID(),
    email,
    name: input.name?.trim() || email.split('@')[0]!,
    passwordHash: await hashPassword(input.password),
    createdAt: input.now,
  };
  try {
    await store.createUser(user);
  } catch (error) {
    if (isUniqueViolation(error)) throw new HttpProblem(409, 'EMAIL_TAKEN', `a user with email "${email}" exists`);
    throw error;
  }
  if (membership !== undefined) await store.putMembership({ ...membership, userId: user.id, createdAt: input.now });
  return user;
}

/** A user as the API shows it: never the password hash. */
export function presentUser(user: UserRecord): { id: string; email: string; name: string; createdAt: string; disabled?: boolean } {
  return { id: user.id, email: user.email, name: user.name, createdAt: new Date(user.createdAt).toISOString(), ...(user.disabledAt === undefined ? {} : { disabled: true }) };
}
