/**
 * Runs one attempt of one step: resolve its params, build its context, call `execute`, enforce
 * `timeoutMs` through the AbortSignal. Shared by every runner; it reports an outcome and never
 * throws, so a runner turns it straight into a `step.succeeded` or `step.failed` event.
 */
import {
  buildScope,
  collectValueRootNames,
  deepFreeze,
  FlowPilotError,
  NonRetryableError,
  resolveValue,
  RoutedOutput,
  StepTimeoutError,
  toErrorInfo,
  resolveNodeParams,
  type ErrorInfo,
  type LogLevel,
  type NodeContext,
  type Plan,
  type PlannedNode,
  type Scope,
  type ScopeSource,
  type StepInput,
  type WorkflowRef,
} from '@flowpilot/engine';
import { sleep, type Clock } from './clock.js';

/** What running an attempt produced. */
export type AttemptOutcome =
  | { ok: true; output: unknown; handles?: readonly string[] }
  | { ok: false; error: ErrorInfo };

/** Child runs a node may start; provided by the runner (in memory now, durable later). */
export interface ChildRunner {
  runSubgraph(plan: Plan, input: unknown, outerScope: Scope, signal: AbortSignal, label: string): Promise<unknown>;
  runWorkflow(ref: WorkflowRef, input: unknown, signal: AbortSignal): Promise<unknown>;
}

/** Everything one attempt needs. */
export interface AttemptRequest {
  plan: Plan;
  node: PlannedNode;
  runId: string;
  attempt: number;
  /** Active upstream node ids, as the core dispatched them. */
  inputs: readonly string[];
  source: ScopeSource;
  /** Names lent by an enclosing graph (sub-graph runs only). */
  outerScope: Scope | undefined;
  depth: number;
  clock: Clock;
  /** Aborts the attempt (cancel); the timeout is added on top. */
  signal: AbortSignal;
  children: ChildRunner;
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

/** Runs the attempt; resolves to its outcome (never rejects). */
export async function runAttempt(request: AttemptRequest): Promise<AttemptOutcome> {
  const { node, clock } = request;
  const controller = new AbortController();
  const forwardAbort = (): void => controller.abort(request.signal.reason);
  if (request.signal.aborted) forwardAbort();
  else request.signal.addEventListener('abort', forwardAbort, { once: true });
  let timer: { cancel(): void } | undefined;
  const timedOut = new Promise<AttemptOutcome>((resolve) => {
    if (node.timeoutMs === undefined) return;
    timer = clock.setTimer(node.timeoutMs, () => {
      const error = new StepTimeoutError(node.timeoutMs!);
      controller.abort(error);
      resolve({ ok: false, error: toErrorInfo(error) });
    });
  });
  try {
    return await Promise.race([execute(request, controller.signal), timedOut]);
  } finally {
    timer?.cancel();
    request.signal.removeEventListener('abort', forwardAbort);
  }
}

async function execute(request: AttemptRequest, signal: AbortSignal): Promise<AttemptOutcome> {
  const { plan, node, clock } = request;
  try {
    const scope = buildScope(plan, request.source, node.rootNames, request.outerScope);
    const params = await resolveNodeParams(node, scope, clock);
    const result = await node.nodeType.execute(createContext(request, params, signal));
    if (signal.aborted) return { ok: false, error: toErrorInfo(signal.reason) };
    if (result instanceof RoutedOutput) return { ok: true, output: deepFreeze(result.output), handles: result.handles };
    return { ok: true, output: deepFreeze(result) };
  } catch (error) {
    return { ok: false, error: toErrorInfo(signal.aborted ? signal.reason : error) };
  }
}

function createContext(request: AttemptRequest, params: unknown, signal: AbortSignal): NodeContext<never> {
  const { plan, node, clock, source } = request;
  const inputs: StepInput[] = request.inputs.map((nodeId) => ({ nodeId, output: source.outputOf(plan.byId.get(nodeId)!.index) }));
  const context: NodeContext<unknown> = {
    params,
    node: node.node,
    runId: request.runId,
    nodeId: node.id,
    attempt: request.attempt,
    idempotencyKey: `${request.runId}:${node.id}:${request.attempt}`,
    input: source.input,
    vars: plan.workflow.vars,
    inputs,
    signal,
    depth: request.depth,
    now: () => clock.now(),
    sleep: (ms) => sleep(clock, ms, signal),
    log: (level, message, fields) => request.log(level, message, fields),
    async evaluate(param, extraScope) {
      const deferred = node.deferred.get(param);
      if (deferred?.kind !== 'expression') throw new NonRetryableError('UNKNOWN_PARAM', `node "${node.id}" has no expression param "${param}"`);
      const names = collectValueRootNames(deferred.value, new Set(node.rootNames));
      return resolveValue(deferred.value, buildScope(plan, source, names, request.outerScope, extraScope), clock);
    },
    runSubgraph(param, input, options = {}) {
      const deferred = node.deferred.get(param);
      if (deferred?.kind !== 'graph') return Promise.reject(new NonRetryableError('UNKNOWN_PARAM', `node "${node.id}" has no graph param "${param}"`));
      const outer = buildScope(plan, source, deferred.plan.externalNames, request.outerScope);
      const label = `${node.id}.${param}${options.key === undefined ? '' : `[${options.key}]`}`;
      return request.children.runSubgraph(deferred.plan, input, outer, options.signal ?? signal, label);
    },
    runWorkflow(ref, input) {
      return request.children.runWorkflow(ref, input, signal);
    },
  };
  return context as NodeContext<never>;
}

/** Re-raises a child run's failure in the parent step, keeping its code and retryability. */
export function childFailure(label: string, error: ErrorInfo & { nodeId?: string }): FlowPilotError {
  const where = error.nodeId === undefined ? '' : ` at node "${error.nodeId}"`;
  return new FlowPilotError(error.code, `${label} failed${where}: ${error.message}`, {
    retryable: error.retryable ?? true,
    details: { ...error.details, childNodeId: error.nodeId },
  });
}
