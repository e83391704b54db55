/**
 * A plan is a validated, compiled workflow (or sub-graph): nodes by index, edges resolved to
 * indices, templates compiled, retry policies defaulted. Built once per workflow version and
 * shared by every run of it; the run state machine only ever reads it.
 */
import type { CompiledExpression, CompiledValue } from '../expressions/template.js';
import type { JoinMode, NodeType } from '../node-type.js';
import type { OnError, RetryPolicy, Workflow, WorkflowNode } from '../workflow/schema.js';

/** An edge with its endpoints resolved to node indices. */
export interface PlannedEdge {
  readonly index: number;
  readonly id: string | undefined;
  readonly source: number;
  readonly target: number;
  /** The source handle this edge leaves from ({@link MAIN_HANDLE} when the edge names none). */
  readonly handle: string;
}

/** A deferred param compiled for its node: an expression or a sub-graph plan. */
export type PlannedDeferred =
  | { readonly kind: 'expression'; readonly value: CompiledValue; readonly scope: readonly string[] }
  | { readonly kind: 'graph'; readonly plan: Plan };

/** One node of a plan. */
export interface PlannedNode {
  readonly index: number;
  readonly id: string;
  readonly node: WorkflowNode;
  readonly nodeType: NodeType;
  readonly incoming: readonly PlannedEdge[];
  readonly outgoing: readonly PlannedEdge[];
  readonly join: JoinMode;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number | undefined;
  readonly onError: OnError;
  /** The non-deferred params, compiled. */
  readonly params: CompiledValue;
  /** Set when params contain no template: parsed once at plan time instead of per attempt. */
  readonly staticParams: { readonly value: unknown } | undefined;
  readonly deferred: ReadonlyMap<string, PlannedDeferred>;
  /** Root names the node's templates read: what its scope must contain. */
  readonly rootNames: ReadonlySet<string>;
}

/** A compiled graph. The top-level plan carries the workflow; sub-graph plans carry their parent's. */
export interface Plan {
  readonly workflow: Workflow;
  readonly nodes: readonly PlannedNode[];
  readonly byId: ReadonlyMap<string, PlannedNode>;
  readonly edges: readonly PlannedEdge[];
  /** Nodes without incoming edges, in definition order: they start when the run starts. */
  readonly roots: readonly number[];
  /** The node whose output is the run's output, if the graph has one. */
  readonly outputNodes: readonly number[];
  /** Nodes without outgoing edges. */
  readonly sinks: readonly number[];
  /** Names read inside this graph that it does not define: its enclosing graph lends them. */
  readonly externalNames: ReadonlySet<string>;
}

/** A `{{ }}` expression compiled for a deferred param (re-exported for node implementations). */
export type { CompiledExpression };
