/**
 * @flowpilot/engine — the pure core: workflow format, validation, templates, plans and the run
 * state machine. It imports no I/O module and no other FlowPilot package (checked by `npm run check`).
 */
export * from './errors.js';
export * from './workflow/schema.js';
export * from './node-type.js';
export * from './expressions/template.js';
export * from './expressions/resolve.js';
export * from './plan/types.js';
export * from './validation/issues.js';
export { validateWorkflow, planWorkflow, type ValidationResult } from './validation/validate.js';
export { describeParamIssues } from './validation/params.js';
export { credentialReferences, validateCredentialReferences, type CredentialReference } from './validation/credentials.js';
export * from './core/types.js';
export { applyEvent, createRunState, replayEvents, runOutput } from './core/transition.js';
export { retryDelayMs } from './core/retry.js';
export { buildScope, stateScopeSource, resolveNodeParams, deepFreeze, type ScopeSource } from './core/scope.js';
export { diffWorkflows, edgeKey, type ItemDiff, type WorkflowDiff } from './workflow/diff.js';
