/**
 * Workspace limits for workers started from the command line: the same store overrides and
 * `FLOWPILOT_LIMIT_*` defaults `flowpilot serve` applies, so a run's duration and step limits do
 * not depend on which process runs its steps.
 */
import { limitDefaults, WorkspaceLimitsService, type ServerStore } from '@flowpilot/server';
import type { Store } from '@flowpilot/store';
import type { DurableEngineOptions } from '@flowpilot/worker';

export function workspaceRunLimits(store: Store): NonNullable<DurableEngineOptions['runLimits']> {
  const limits = new WorkspaceLimitsService(store as ServerStore, limitDefaults());
  // The engine caches the answer itself (a second): read the store each time it asks.
  return (workspaceId) => limits.effective(workspaceId, 0);
}
