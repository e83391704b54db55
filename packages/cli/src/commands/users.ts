/** `flowpilot users create` and `flowpilot keys create`: accounts and API keys, straight on the store. */
import { checkNewUser, createApiKey, createUserAccount, LEVELS, normalizeEmail, ROLE_LEVELS, type Level, type ServerStore } from '@flowpilot/server';
import { DEFAULT_WORKSPACE_ID, openStore } from '@flowpilot/store';
import { ExitCode, type CliIo } from '../io.js';

export interface UsersCreateOptions {
  email: string;
  name?: string;
  password?: string;
  owner?: boolean;
}

/**
 * `flowpilot users create --email E [--name N] [--password P] [--owner]`: the password may come from
 * FLOWPILOT_PASSWORD instead (it then stays out of the shell history and `ps`). `--owner` makes the
 * user an owner of the default workspace. Prints the user id. Exit 2 on bad input, 1 when the email
 * is taken.
 */
export async function usersCreateCommand(options: UsersCreateOptions, io: CliIo): Promise<number> {
  const password = options.password ?? process.env.FLOWPILOT_PASSWORD;
  if (password === undefined || password === '') {
    io.stderr.write('flowpilot: give a password with --password or FLOWPILOT_PASSWORD\n');
    return ExitCode.INVALID;
  }
  const problem = checkNewUser({ email: options.email, password, ...(options.name === undefined ? {} : { name: options.name }) });
  if (problem !== undefined) {
    io.stderr.write(`flowpilot: ${problem}\n`);
    return ExitCode.INVALID;
  }
  const store = (await openStore()) as ServerStore;
  try {
    const user = await createUserAccount(
      store,
      { email: options.email, password, now: Date.now(), ...(options.name === undefined ? {} : { name: options.name }) },
      options.owner === true ? { workspaceId: DEFAULT_WORKSPACE_ID, role: 'owner' } : undefined,
    );
    io.stdout.write(`${user.id}\n`);
    io.stderr.write(`user ${user.email} created${options.owner === true ? ', owner of the default workspace' : ' (no workspace yet: invite them to one)'}\n`);
    return ExitCode.OK;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EMAIL_TAKEN') {
      io.stderr.write(`flowpilot: ${(error as Error).message}\n`);
      return ExitCode.FAILED;
    }
    throw error;
  } finally {
    await store.close();
  }
}

export interface KeysCreateOptions {
  name: string;
  scope: string;
  email?: string;
}

/**
 * `flowpilot keys create --name NAME [--scope read|run|write|admin] [--email USER]`: prints a new
 * key of the default workspace once. Without `--email` it belongs to no user (like
 * FLOWPILOT_API_KEY); with it, to that member, and its scope may not exceed their role.
 */
export async function keysCreateCommand(options: KeysCreateOptions, io: CliIo): Promise<number> {
  if (!Object.hasOwn(LEVELS, options.scope)) {
    io.stderr.write(`flowpilot: --scope must be one of ${Object.keys(LEVELS).join(', ')}, got "${options.scope}"\n`);
    return ExitCode.INVALID;
  }
  const scope = options.scope as Level;
  const store = (await openStore()) as ServerStore;
  try {
    let userId: string | undefined;
    if (options.email !== undefined) {
      const user = await store.findUserByEmail(normalizeEmail(options.email));
      const membership = user === undefined ? undefined : await store.getMembership(DEFAULT_WORKSPACE_ID, user.id);
      if (user === undefined || membership === undefined) {
        io.stderr.write(`flowpilot: ${user === undefined ? `no user with email "${options.email}"` : `${user.email} is not a member of the default workspace`}\n`);
        return ExitCode.FAILED;
      }
      const roleLevel = ROLE_LEVELS[membership.role];
      if (LEVELS[scope] > LEVELS[roleLevel]) {
        io.stderr.write(`flowpilot: ${user.email} is ${membership.role} (level "${roleLevel}"): a "${scope}" key would exceed it\n`);
        return ExitCode.FAILED;
      }
      userId = user.id;
    }
    const { key, record } = await createApiKey(store, { name: options.name, scopes: [scope], ...(userId === undefined ? {} : { userId }) });
    io.stdout.write(`${key}\n`);
    io.stderr.write(`API key "${record.name}" (${record.prefix}…, scope ${scope}) created; it is shown only once.\n`);
    return ExitCode.OK;
  } finally {
    await store.close();
  }
}
