/**
 * Runs one attempt of one step: resolve its params, build its context, call `execute`, enforce
 * `timeoutMs` through the AbortSignal. Shared by every runner; it reports an outcome and never
 * throws, so a runner turns it straight into a `step.succeeded` or `step.failed` event.
 */
import {
  buildScope,
  collectValueRootNames,
  credentialRequirement,
  deepFreeze,
  FlowPilotError,
  NonRetryableError,
  resolveValue,
  RoutedOutput,
  WaitingOutput,
  StepTimeoutError,
  toErrorInfo,
  resolveNodeParams,
  type CredentialValue,
  type ErrorInfo,
  type LogLevel,
  type NodeContext,
  type Plan,
  type PlannedNode,
  type RunEvent,
  type Scope,
  type ScopeSource,
  type StepInput,
  type WorkflowRef,
} from '@flowpilot/engine';
import type { LazyAbort } from './abort.js';
import { sleep, type Clock } from './clock.js';
import type { CredentialProvider } from './credentials.js';
import { AttemptSecrets } from './secrets.js';

/** What running an attempt produced. */
export type AttemptOutcome =
  | { ok: true; output: unknown; handles?: readonly string[] }
  | { ok: true; output: unknown; wakeAt: number }
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
  /** Aborts the attempt (cancel); the runner owns it, the timeout aborts it too. */
  abort: LazyAbort;
  children: ChildRunner;
  /** Resolves `ctx.credential()`; without it a node that asks fails with NO_CREDENTIAL_PROVIDER. */
  credentials?: CredentialProvider;
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

/** Runs the attempt; resolves to its outcome (never rejects). */
export async function runAttempt(request: AttemptRequest): Promise<AttemptOutcome> {
  const { node, clock, abort } = request;
  if (node.timeoutMs === undefined) return execute(request);
  // The timeout wins the race even when the node ignores its signal.
  let timer: { cancel(): void } | undefined;
  const timedOut = new Promise<AttemptOutcome>((resolve) => {
    timer = clock.setTimer(node.timeoutMs!, () => {
      const error = new StepTimeoutError(node.timeoutMs!);
      abort.abort(error);
      resolve({ ok: false, error: toErrorInfo(error) });
    });
  });
  try {
    return await Promise.race([execute(request), timedOut]);
  } finally {
    timer?.cancel();
  }
}

async function execute(request: AttemptRequest): Promise<AttemptOutcome> {
  const { plan, node, clock, abort } = request;
  let context: AttemptContext | undefined;
  try {
    const scope = buildScope(plan, request.source, node.rootNames, request.outerScope);
    const params = await resolveNodeParams(node, scope, clock);
    context = new AttemptContext(request, params);
    const result: unknown = await node.nodeType.execute(context);
    if (abort.aborted) return { ok: false, error: toErrorInfo(abort.reason) };
    const secrets = context.secrets;
    if (result instanceof RoutedOutput) return { ok: true, output: deepFreeze(scrub(secrets, result.output)), handles: result.handles };
    if (result instanceof WaitingOutput) return { ok: true, output: deepFreeze(scrub(secrets, result.output)), wakeAt: result.wakeAt };
    return { ok: true, output: deepFreeze(scrub(secrets, result)) };
  } catch (error) {
    const info = toErrorInfo(abort.aborted ? abort.reason : error);
    const secrets = context?.secrets;
    return { ok: false, error: secrets === undefined ? info : secrets.scrubError(info) };
  }
}

/** Scrubs the secrets the attempt resolved (none: the value as is, no copy). */
function scrub(secrets: AttemptSecrets | undefined, value: unknown): unknown {
  return secrets === undefined ? value : secrets.scrub(value);
}

/** The `ctx` a node gets. A class, so an attempt allocates one object rather than a dozen closures. */
class AttemptContext implements NodeContext<unknown> {
  readonly #request: AttemptRequest;
  readonly params: unknown;
  #inputs: StepInput[] | undefined;
  /** Created by the first `credential()`: most attempts have no secrets to scrub. */
  #secrets: AttemptSecrets | undefined;
  #credential: Promise<CredentialValue> | undefined;

  constructor(request: AttemptRequest, params: unknown) {
    this.#request = request;
    this.params = params;
  }

  get node(): NodeContext['node'] {
    return this.#request.node.node;
  }
  get runId(): string {
    return this.#request.runId;
  }
  get nodeId(): string {
    return this.#request.node.id;
  }
  get attempt(): number {
    return this.#request.attempt;
  }
  get idempotencyKey(): string {
    return `${this.#request.runId}:${this.#request.node.id}:${this.#request.attempt}`;
  }
  get input(): unknown {
    return this.#request.source.input;
  }
  get vars(): Readonly<Record<string, unknown>> {
    return this.#request.plan.workflow.vars;
  }
  get inputs(): readonly StepInput[] {
    const { plan, source } = this.#request;
    this.#inputs ??= this.#request.inputs.map((nodeId) => ({ nodeId, output: source.outputOf(plan.byId.get(nodeId)!.index) }));
    return this.#inputs;
  }
  get signal(): AbortSignal {
    return this.#request.abort.signal;
  }
  get depth(): number {
    return this.#request.depth;
  }

  now(): number {
    return this.#request.clock.now();
  }

  sleep(ms: number): Promise<void> {
    return sleep(this.#request.clock, ms, this.signal);
  }

  /** The secrets resolved so far (undefined when none was). */
  get secrets(): AttemptSecrets | undefined {
    return this.#secrets;
  }

  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    const secrets = this.#secrets;
    if (secrets === undefined) this.#request.log(level, message, fields);
    else this.#request.log(level, secrets.scrubText(message), fields === undefined ? undefined : secrets.scrub(fields));
  }

  credential(): Promise<CredentialValue> {
    this.#credential ??= this.#resolveCredential();
    return this.#credential;
  }

  async #resolveCredential(): Promise<CredentialValue> {
    const { node, credentials } = this.#request;
    const requirement = credentialRequirement(node.nodeType);
    const id = (this.params as { credential?: unknown } | null)?.credential;
    if (typeof id !== 'string' || id === '') {
      throw new NonRetryableError('CREDENTIAL_REQUIRED', `node "${node.id}" needs a credential${requirement === undefined ? '' : ` (${requirement.types.join(' or ')})`} in data.credential`);
    }
    if (credentials === undefined) {
      throw new NonRetryableError('NO_CREDENTIAL_PROVIDER', `node "${node.id}" needs credential "${id}", but this run has no credential store: run it durably (flowpilot run --durable, or through the server)`, {
        details: { credentialId: id },
      });
    }
    const resolved = await credentials(id);
    // Registered before any check: from here on, nothing this attempt records may show them.
    (this.#secrets ??= new AttemptSecrets()).add(resolved.secrets);
    if (requirement !== undefined && !requirement.types.includes(resolved.type)) {
      throw new NonRetryableError('CREDENTIAL_TYPE_MISMATCH', `node "${node.id}": credential "${id}" is of type ${resolved.type}; the node accepts ${requirement.types.join(' or ')}`, {
        details: { credentialId: id, type: resolved.type },
      });
    }
    return { id, type: resolved.type, data: resolved.data };
  }

  async evaluate(param: string, extraScope: Record<string, unknown>): Promise<unknown> {
    const { plan, node, source, outerScope, clock } = this.#request;
    const deferred = node.deferred.get(param);
    if (deferred?.kind !== 'expression') throw new NonRetryableError('UNKNOWN_PARAM', `node "${node.id}" has no expression param "${param}"`);
    const names = collectValueRootNames(deferred.value, new Set(node.rootNames));
    return resolveValue(deferred.value, buildScope(plan, source, names, outerScope, extraScope), clock);
  }

  runSubgraph(param: string, input: unknown, options: { key?: string; signal?: AbortSignal } = {}): Promise<unknown> {
    const { plan, node, source, outerScope, children } = this.#request;
    const deferred = node.deferred.get(param);
    if (deferred?.kind !== 'graph') return Promise.reject(new NonRetryableError('UNKNOWN_PARAM', `node "${node.id}" has no graph param "${param}"`));
    const outer = buildScope(plan, source, deferred.plan.externalNames, outerScope);
    const label = `${node.id}.${param}${options.key === undefined ? '' : `[${options.key}]`}`;
    return children.runSubgraph(deferred.plan, input, outer, options.signal ?? this.signal, label);
  }

  runWorkflow(ref: WorkflowRef, input: unknown): Promise<unknown> {
    return this.#request.children.runWorkflow(ref, input, this.signal);
  }
}

/** Re-raises a child run's failure in the parent step, keeping its code and retryability. */
export function childFailure(label: string, error: ErrorInfo & { nodeId?: string }): FlowPilotError {
  const where = error.nodeId === undefined ? '' : ` at node "${error.nodeId}"`;
  return new FlowPilotError(error.code, `${label} failed${where}: ${error.message}`, {
    retryable: error.retryable ?? true,
    details: { ...error.details, childNodeId: error.nodeId },
  });
}

/** The event that records an attempt's outcome. */
export function outcomeEvent(outcome: AttemptOutcome, nodeId: string, attempt: number, at: number): RunEvent {
  if (!outcome.ok) return { type: 'step.failed', at, nodeId, attempt, error: outcome.error };
  if ('wakeAt' in outcome) return { type: 'step.waiting', at, nodeId, attempt, wakeAt: outcome.wakeAt, output: outcome.output };
  return { type: 'step.succeeded', at, nodeId, attempt, output: outcome.output, handles: outcome.handles };
}
