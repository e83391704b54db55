/** @flowpilot/server — the HTTP API, webhooks, schedules and live events. */
export { createServer, type FlowPilotServer, type ServerOptions } from './server.js';
export { createApiKey, hashApiKey } from './auth.js';
export { signBody, verifySignature, SIGNATURE_HEADER } from './signature.js';
export { nextTick, planTick } from './schedule-math.js';
export type { ServerStore } from './server-store.js';
