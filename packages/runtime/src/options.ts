/** Options of runs and what runners hand to observers. */
import type { LogLevel, NodeRegistry, RunEvent, Scope, WorkflowRef } from '@flowpilot/engine';
import type { Clock } from './clock.js';
import type { CredentialProvider } from './credentials.js';

/** A log line written by a node. */
export interface LogEntry {
  runId: string;
  nodeId: string;
  attempt: number;
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
  at: number;
}

/** Loads a workflow for the `subworkflow` node; `from` is the file of the workflow asking. */
export type WorkflowLoader = (ref: WorkflowRef, from: string | undefined) => Promise<{ workflow: unknown; source?: string }>;

/** Options of an in-memory run. */
export interface MemoryRunOptions {
  registry: NodeRegistry;
  input?: unknown;
  runId?: string;
  clock?: Clock;
  /** Aborting it cancels the run. */
  signal?: AbortSignal;
  /** Every event of this run and its child runs, as it is recorded. */
  onEvent?: (event: RunEvent, run: { runId: string; depth: number }) => void;
  onLog?: (entry: LogEntry) => void;
  /** Resolves `subworkflow` references; without it, the node fails with `NO_WORKFLOW_LOADER`. */
  loadWorkflow?: WorkflowLoader;
  /**
   * Resolves `ctx.credential()` (child runs use the same one). Without it, a node that needs a
   * credential fails with `NO_CREDENTIAL_PROVIDER`.
   */
  credentials?: CredentialProvider;
  /** The file the workflow came from (relative sub-workflow files resolve against it). */
  source?: string;
  /** Maximum nesting of sub-graphs and sub-workflows (default 16). */
  maxDepth?: number;
  /** Internal: nesting of this run, the sources above it, names lent by an enclosing graph. */
  depth?: number;
  lineage?: readonly string[];
  outerScope?: Scope;
}

