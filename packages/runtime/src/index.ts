/**
 * @flowpilot/runtime — runs plans: the attempt executor shared by every runner, the in-memory
 * runner, and clocks (system and manual).
 */
export * from './clock.js';
export * from './attempt.js';
export * from './result.js';
export { MemoryRun, runWorkflow, type LogEntry, type MemoryRunOptions, type WorkflowLoader } from './memory-runner.js';
export { LazyAbort } from './abort.js';
