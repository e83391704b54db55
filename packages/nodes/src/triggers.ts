/**
 * Trigger nodes: how a run starts. Each outputs the run's input, so later nodes read the trigger's
 * data by its id (`{{ hook.body.x }}`). The server reads their params to route webhooks and fire
 * schedules; to the engine they are ordinary nodes.
 */
import { credentialParam, defineNodeType } from '@flowpilot/engine';
import { Cron } from 'croner';
import { z } from 'zod';

/** Webhook paths: URL-safe segments, no `..`. */
export const WEBHOOK_PATH_PATTERN = /^(?!.*\.\.)[A-Za-z0-9_\-.]+(?:\/[A-Za-z0-9_\-.]+)*$/;

/** `webhook`: `POST /hooks/{path}` starts a run with `{body, query, headers}` as input. */
export const webhookNode = defineNodeType({
  type: 'webhook',
  title: 'Webhook trigger',
  description: 'Starts a run on an HTTP request to /hooks/{path}; outputs {body, query, headers}.',
  category: 'trigger',
  params: z
    .object({
      path: z.string().regex(WEBHOOK_PATH_PATTERN, 'must be URL path segments of letters, digits, _ - .'),
      method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
      mode: z.enum(['async', 'sync']).default('async').describe('async: answer 202 {runId}; sync: answer with the run result.'),
      secret: z.string().min(8).optional().describe('Require an X-FlowPilot-Signature HMAC-SHA256 of the body with this secret.'),
      // The same check with the secret of a `webhookSecret` credential: the secret stays out of the workflow.
      credential: credentialParam(['webhookSecret']),
      timeoutMs: z.number().int().positive().max(300_000).default(30_000).describe('sync: answer 504 after this long.'),
    })
    .refine((params) => params.secret === undefined || params.credential === undefined, { message: 'give either secret or credential, not both', path: ['credential'] }),
  outputsRunInput: true,
  execute: (ctx) => ctx.input ?? {},
});

/** Is this a valid cron expression (croner syntax, optional seconds field)? */
export function isValidCron(expression: string, timezone?: string): boolean {
  try {
    new Cron(expression, { timezone, paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}

/** `schedule`: starts a run at every tick of a cron expression. */
export const scheduleNode = defineNodeType({
  type: 'schedule',
  title: 'Schedule trigger',
  description: 'Starts a run at every tick of a cron expression; outputs {scheduledFor, firedAt}.',
  category: 'trigger',
  params: z
    .object({
      cron: z.string().min(1).describe('Cron expression, e.g. "*/5 * * * *" (an optional first field is seconds).'),
      timezone: z.string().optional().describe('IANA time zone, e.g. "Europe/Berlin" (default UTC).'),
      catchUp: z.enum(['one', 'none']).default('one').describe('After downtime: fire one missed tick, or none.'),
    })
    .refine((params) => isValidCron(params.cron, params.timezone), { message: 'not a valid cron expression or time zone', path: ['cron'] }),
  outputsRunInput: true,
  execute: (ctx) => ctx.input ?? {},
});

/** `manual`: a run started by hand (API, CLI, editor); outputs the input. */
export const manualNode = defineNodeType({
  type: 'manual',
  title: 'Manual trigger',
  description: 'Marks a workflow as started by hand; outputs the run input.',
  category: 'trigger',
  params: z.object({}).loose(),
  outputsRunInput: true,
  execute: (ctx) => ctx.input ?? {},
});

/** `respond`: the HTTP response of a sync webhook run. */
export const respondNode = defineNodeType({
  type: 'respond',
  title: 'Respond to webhook',
  description: 'Sets the HTTP response of a sync webhook: {status, headers, body}.',
  category: 'trigger',
  params: z.object({
    status: z.number().int().min(100).max(599).default(200),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.unknown().optional(),
  }),
  execute: (ctx) => ({ status: ctx.params.status, headers: ctx.params.headers, body: ctx.params.body ?? null }),
});
