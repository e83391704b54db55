/**
 * Node types are data plus one function: a params schema (zod, exported as JSON Schema for the
 * editor and the API docs), the handles they emit on, and `execute(ctx)`. The engine never names a
 * node type; it asks the registry. Adding a node type never touches the engine.
 */
import { z as zod, type z } from 'zod';
import { FlowPilotError } from './errors.js';
import type { Graph, WorkflowNode } from './workflow/schema.js';

/** The output handle of nodes that do not branch. An edge without `sourceHandle` uses it. */
export const MAIN_HANDLE = 'main';
/** The handle followed when a node with `onError: "route"` fails. */
export const ERROR_HANDLE = 'error';

/** A top-level param that is not resolved before `execute`: the node evaluates or runs it itself. */
export type DeferredParam =
  /** A `{{ }}` expression evaluated by the node with extra names in scope (`loop.until`). */
  | { kind: 'expression'; scope: readonly string[] }
  /** A sub-graph `{nodes, edges}` the node runs with `ctx.runSubgraph` (`forEach.body`). */
  | { kind: 'graph'; scope?: readonly string[] };

/** One active incoming edge of a step: which upstream node it came from and that node's output. */
export interface StepInput {
  readonly nodeId: string;
  readonly output: unknown;
}

/** Where to find another workflow for `ctx.runWorkflow`. */
export interface WorkflowRef {
  file?: string;
  workflowId?: string;
  version?: number;
}

/** A credential as a node sees it: decrypted, inside the attempt that asked for it. */
export interface CredentialValue {
  readonly id: string;
  /** The credential type (`httpBearer`, `smtp`, …). */
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** Severity of a step log line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * What a node's `execute` gets. All I/O the node may do goes through here or through its own
 * libraries; the clock and sleeping come from the runner so tests can use a fake clock.
 */
export interface NodeContext<P = Record<string, unknown>> {
  /** Params with every `{{ }}` resolved and validated against the node type's schema. */
  readonly params: P;
  /** The node as written in the workflow. */
  readonly node: WorkflowNode;
  readonly runId: string;
  readonly nodeId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Stable per run, node and attempt: side-effecting nodes deduplicate with it. */
  readonly idempotencyKey: string;
  /** The run's input (frozen). */
  readonly input: unknown;
  readonly vars: Readonly<Record<string, unknown>>;
  /** Active incoming edges, in the order their sources finished. */
  readonly inputs: readonly StepInput[];
  /** Aborted on timeout and on cancel. */
  readonly signal: AbortSignal;
  /** Nesting depth: 0 for a top-level run, +1 per sub-graph or sub-workflow. */
  readonly depth: number;
  now(): number;
  /** Waits, rejecting with an abort error when `signal` aborts. */
  sleep(ms: number): Promise<void>;
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  /** Evaluates a deferred `expression` param with extra names in scope. */
  evaluate(param: string, extraScope: Record<string, unknown>): Promise<unknown>;
  /** Runs a deferred `graph` param as a child run; resolves to its output, rejects on failure. */
  runSubgraph(param: string, input: unknown, options?: { key?: string; signal?: AbortSignal }): Promise<unknown>;
  /** Runs another workflow as a child run; resolves to its output, rejects on failure. */
  runWorkflow(ref: WorkflowRef, input: unknown): Promise<unknown>;
  /**
   * The decrypted credential named by the node's `credential` param (see {@link credentialParam}).
   * Its secret values are scrubbed from this attempt's output, error and log lines. Rejects with a
   * non-retryable error (`CREDENTIAL_REQUIRED`, `CREDENTIAL_NOT_FOUND`, `CREDENTIAL_TYPE_MISMATCH`,
   * `NO_CREDENTIAL_PROVIDER`, …) naming the credential id, never a value.
   */
  credential(): Promise<CredentialValue>;
}

/** How a node with several incoming edges starts: when all have settled, or on the first active one. */
export type JoinMode = 'all' | 'any';

/** A node type: metadata for the editor, a params schema, handles and `execute`. */
export interface NodeType<P = unknown> {
  readonly type: string;
  readonly title: string;
  readonly description: string;
  readonly category: string;
  readonly params: z.ZodType<P>;
  /** Output handles; omitted means the single {@link MAIN_HANDLE}. */
  handles?(params: Record<string, unknown>): readonly string[];
  /** Defaults to `all`. */
  join?(params: Record<string, unknown>): JoinMode;
  /** Top-level params the engine must not resolve before `execute`. */
  readonly deferredParams?: Readonly<Record<string, DeferredParam>>;
  /** A succeeded node of this type provides the run's output (the `output` node). */
  readonly providesRunOutput?: boolean;
  /**
   * The node outputs the run's input and does nothing else (trigger nodes). A durable runner
   * records such a root node as succeeded in the transaction that starts the run, without a
   * queued attempt; `execute` (which must return the input) serves the in-memory runner.
   */
  readonly outputsRunInput?: boolean;
  execute(ctx: NodeContext<P>): unknown;
}

/** Returned by `execute` to follow specific output handles (branch nodes). */
export class RoutedOutput {
  constructor(
    readonly handles: readonly string[],
    readonly output: unknown,
  ) {}
}

/** Returned by `execute` to finish the attempt now but succeed only at `wakeAt` (a durable timer). */
export class WaitingOutput {
  constructor(
    readonly wakeAt: number,
    readonly output: unknown,
  ) {}
}

/**
 * Succeed with `output` at `wakeAt` without holding a worker or a concurrency slot meanwhile:
 * `return waitUntil(ctx.now() + ms, {ms})`. The wait is a timer the runner keeps (durably, in a store).
 */
export function waitUntil(wakeAt: number, output: unknown): WaitingOutput {
  return new WaitingOutput(wakeAt, output);
}

/** Follow `handle` with `output`: `return routeTo('true', {result: true})`. */
export function routeTo(handle: string | readonly string[], output: unknown): RoutedOutput {
  return new RoutedOutput(typeof handle === 'string' ? [handle] : handle, output);
}

/** The set of node types a workflow may use. */
export class NodeRegistry {
  readonly #types = new Map<string, NodeType>();

  constructor(types: Iterable<NodeType> = []) {
    for (const type of types) this.register(type);
  }

  register(type: NodeType): this {
    if (this.#types.has(type.type)) {
      throw new FlowPilotError('DUPLICATE_NODE_TYPE', `node type "${type.type}" is registered twice`, { retryable: false });
    }
    this.#types.set(type.type, type);
    return this;
  }

  get(type: string): NodeType | undefined {
    return this.#types.get(type);
  }

  has(type: string): boolean {
    return this.#types.has(type);
  }

  list(): NodeType[] {
    return [...this.#types.values()];
  }
}

/** Reads a deferred `graph` param as a graph; validation has already checked its shape. */
export type SubgraphValue = Graph;

/** Declares a node type with its params type inferred from the zod schema. */
export function defineNodeType<S extends z.ZodType>(spec: NodeType<z.output<S>> & { params: S }): NodeType<z.output<S>> {
  return spec;
}

/** A `{nodes, edges}` param holding a sub-graph; its contents are validated as a graph of their own. */
export const subgraphParam = (): z.ZodType<{ nodes: unknown[]; edges?: unknown[] }> =>
  zod.object({ nodes: zod.array(zod.unknown()), edges: zod.array(zod.unknown()).optional() }).loose().describe('A sub-graph: {nodes, edges}.');

/** A condition: a boolean, or a `{{ }}` expression whose result is tested for truthiness. */
export const conditionParam = (): z.ZodType<unknown> =>
  zod.union([zod.boolean(), zod.string().regex(/^\s*\{\{[\s\S]*\}\}\s*$/, 'must be a {{ expression }} or a boolean')]);

/** Which credentials a node type accepts in `data.credential`. */
export interface CredentialRequirement {
  /** Accepted credential types (`httpBearer`, …). */
  readonly types: readonly string[];
  /** Whether a node of this type must name one. */
  readonly required: boolean;
}

/**
 * The `credential` param: the id of a stored credential of one of `types`. Always optional in the
 * schema; `required` is checked where credentials are known (`validateCredentialReferences`, and
 * `ctx.credential()` at run time), so a missing one is `CREDENTIAL_REQUIRED`, not a params error.
 * The requirement travels as schema metadata (`credential: {types, required}`), which the JSON
 * Schema shows the editor too.
 */
export const credentialParam = (types: readonly string[], options: { required?: boolean } = {}): z.ZodOptional<z.ZodString> =>
  zod
    .string()
    .min(1)
    .max(200)
    .optional()
    .meta({ credential: { types: [...types], required: options.required ?? false }, description: `A credential id (type: ${types.join(' or ')}).` });

/** What a node type accepts in `data.credential`, read from its params schema; undefined when none. */
export function credentialRequirement(nodeType: NodeType): CredentialRequirement | undefined {
  const params = nodeType.params as z.ZodType;
  if (!(params instanceof zod.ZodObject)) return undefined;
  const field = (params.shape as Record<string, z.ZodType | undefined>).credential;
  const meta = field?.meta()?.credential as { types?: unknown; required?: unknown } | undefined;
  if (meta === undefined || !Array.isArray(meta.types)) return undefined;
  return { types: meta.types.filter((type): type is string => typeof type === 'string'), required: meta.required === true };
}

/** What the editor and API docs show of a node type. */
export interface NodeTypeInfo {
  type: string;
  title: string;
  description: string;
  category: string;
  paramsSchema: Record<string, unknown>;
}

/** Describes a node type with its params as JSON Schema. */
export function describeNodeType(nodeType: NodeType): NodeTypeInfo {
  return {
    type: nodeType.type,
    title: nodeType.title,
    description: nodeType.description,
    category: nodeType.category,
    paramsSchema: zod.toJSONSchema(nodeType.params, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>,
  };
}
