// Placeholder replaced by the PostgreSQL implementation.
import type { Store } from '../types.js';

export interface PostgresStoreOptions {
  connectionString: string;
  payloadThreshold?: number | undefined;
  schema?: string;
}

export declare class PostgresStore implements Store {
  constructor(options: PostgresStoreOptions);
  readonly kind: 'postgres';
  migrate: Store['migrate'];
  close: Store['close'];
  transaction: Store['transaction'];
  saveWorkflowVersion: Store['saveWorkflowVersion'];
  getWorkflow: Store['getWorkflow'];
  getWorkflowVersion: Store['getWorkflowVersion'];
  setWorkflowConcurrency: Store['setWorkflowConcurrency'];
  getRun: Store['getRun'];
  getSteps: Store['getSteps'];
  readOutputs: Store['readOutputs'];
  readEvents: Store['readEvents'];
  claimSteps: Store['claimSteps'];
  extendLeases: Store['extendLeases'];
  claimDueTimers: Store['claimDueTimers'];
  nextTimerDue: Store['nextTimerDue'];
  queueDepth: Store['queueDepth'];
  pruneRuns: Store['pruneRuns'];
  onWork: Store['onWork'];
}
