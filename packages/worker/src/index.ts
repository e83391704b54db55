/**
 * @flowpilot/worker — durable execution: the engine core driven through a `Store`. Runs survive
 * crashes and restarts; any number of worker processes share one database.
 */
export { DurableEngine, type CompletedAttempt, type DurableEngineOptions, type LocalWorker, type StartRunOptions } from './engine.js';
export { Worker, type WorkerOptions } from './worker.js';
export { storeCredentials, type WorkspaceCredentialProvider } from './credentials.js';
export { PlanCache } from './plans.js';
export { RunStateCache } from './state-cache.js';
export type { LeaseAllocator, LeasedStep, TransitionNotice } from './transitions.js';
export { summarizeStoredRun, storeWorkflowLoader } from './results.js';
export { EffectTracker, type AnnotatedEvent, type EventEffects } from './effects.js';
export { RunLimitsCache, type RunLimits, type RunLimitsSource } from './run-limits.js';
