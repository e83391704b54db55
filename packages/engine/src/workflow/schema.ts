/**
 * Workflow format v1: the JSON a user writes, the editor saves and the engine runs. Nodes and edges
 * have React Flow's shape so that the editor's state *is* the workflow; unknown keys that React Flow
 * adds (`measured`, `selected`, …) pass through untouched so nothing the editor stores is lost.
 */
import { z } from 'zod';

/** Node ids are usable as expression identifiers (`{{ greet.message }}`). */
export const NODE_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const retryPolicySchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(1000).default(1).describe('Total attempts including the first.'),
    initialDelayMs: z.number().int().min(0).default(1000).describe('Delay before the second attempt.'),
    factor: z.number().min(1).default(2).describe('Each further delay is multiplied by this.'),
    maxDelayMs: z.number().int().min(0).default(60_000).describe('Upper bound for any delay.'),
    jitter: z.boolean().default(true).describe('Randomise each delay between half and all of it.'),
  })
  .strict()
  .describe('Retry policy with exponential backoff.');

export const onErrorSchema = z
  .enum(['fail', 'continue', 'route'])
  .describe('fail: the run fails; continue: succeed with {error}; route: follow the "error" handle.');

export const positionSchema = z.object({ x: z.number(), y: z.number() }).loose();

export const workflowNodeSchema = z
  .object({
    id: z.string().min(1).describe('Unique id, usable in expressions: ^[A-Za-z_][A-Za-z0-9_]*$'),
    type: z.string().min(1).describe('A registered node type, e.g. "set" or "http".'),
    data: z.record(z.string(), z.unknown()).default({}).describe('Parameters of the node type.'),
    position: positionSchema.optional(),
    retry: retryPolicySchema.optional(),
    timeoutMs: z.number().int().positive().optional().describe('Abort an attempt after this long.'),
    onError: onErrorSchema.optional(),
  })
  .loose();

export const workflowEdgeSchema = z
  .object({
    id: z.string().optional(),
    source: z.string().min(1),
    target: z.string().min(1),
    sourceHandle: z.string().nullable().optional().describe('Branch output of the source, e.g. "true".'),
    targetHandle: z.string().nullable().optional(),
  })
  .loose();

/** A graph of nodes and edges: a whole workflow, or the body of a `forEach` / `loop`. */
export const graphSchema = z.object({
  nodes: z.array(workflowNodeSchema),
  edges: z.array(workflowEdgeSchema).default([]),
});

export const workflowSettingsSchema = z
  .object({
    concurrency: z.number().int().min(1).max(10_000).default(8).describe('Max steps of one run in flight.'),
    timeoutMs: z.number().int().positive().optional().describe('Fail the run after this long.'),
    maxConcurrentRuns: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Durable runs: at most this many runs of the workflow run at once; extra runs wait (pending).'),
  })
  .strict();

export const workflowSchema = z
  .object({
    $schema: z.string().optional(),
    formatVersion: z.literal(1).optional(),
    name: z.string().min(1),
    description: z.string().optional(),
    vars: z.record(z.string(), z.unknown()).default({}),
    settings: workflowSettingsSchema.default({ concurrency: 8 }),
    nodes: z.array(workflowNodeSchema),
    edges: z.array(workflowEdgeSchema).default([]),
    viewport: z.object({ x: z.number(), y: z.number(), zoom: z.number() }).optional(),
  })
  .strict()
  .describe('A FlowPilot workflow (format v1).');

export type RetryPolicy = z.output<typeof retryPolicySchema>;
export type OnError = z.output<typeof onErrorSchema>;
export type WorkflowNode = z.output<typeof workflowNodeSchema>;
export type WorkflowEdge = z.output<typeof workflowEdgeSchema>;
export type Graph = z.output<typeof graphSchema>;
export type WorkflowSettings = z.output<typeof workflowSettingsSchema>;
/** A parsed workflow with defaults applied. */
export type Workflow = z.output<typeof workflowSchema>;
/** A workflow as written (defaults optional). */
export type WorkflowInput = z.input<typeof workflowSchema>;

/** JSON Schema of the workflow format, exported to docs/workflow.schema.json. */
export function workflowJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(workflowSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
}
