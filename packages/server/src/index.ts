/** @flowpilot/server — the HTTP API, webhooks, schedules and live events. */
export { createServer, type FlowPilotServer, type ServerOptions } from './server.js';
export { bootstrapApiKey, callerOf, createApiKey, hashApiKey, LEVELS, ROLE_LEVELS, scopeLevel, type Caller, type Level } from './auth.js';
export { hashPassword, verifyPassword } from './auth/passwords.js';
export { checkNewUser, createUserAccount, normalizeEmail } from './auth/users.js';
export { signBody, verifySignature, SIGNATURE_HEADER } from './signature.js';
export { nextTick, planTick } from './schedule-math.js';
export type { ServerStore } from './server-store.js';
export { BUILTIN_LIMITS, LIMIT_ENV, limitDefaults, WorkspaceLimitsService, type EffectiveLimits, type LimitName, type LimitOptions } from './limits.js';
