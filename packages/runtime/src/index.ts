/**
 * @flowpilot/runtime — runs plans: the attempt executor shared by every runner, the in-memory
 * runner, and clocks (system and manual).
 */
export * from './clock.js';
export * from './attempt.js';
export * from './result.js';
export { MemoryRun, runWorkflow } from './memory-runner.js';
export type { LogEntry, MemoryRunOptions, WorkflowLoader } from './options.js';
export { LazyAbort } from './abort.js';
export { AttemptSecrets, SCRUBBED, secretForms } from './secrets.js';
export type { CredentialProvider, ResolvedCredential } from './credentials.js';
export { createChildRunner, type RunStarter } from './children.js';
export { TurnBatcher } from './turn-batcher.js';
export { TtlCache } from './ttl-cache.js';
