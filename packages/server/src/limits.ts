/**
 * Per-workspace limits (docs/security.md, Limits): the workspace's overrides from the store over
 * the server's defaults (FLOWPILOT_LIMIT_* or `ServerOptions.limits`), cached for a second so a
 * request or a worker step costs no extra store round trip. Every refusal is a problem naming the
 * limit (`limit`) and its value (`max`).
 */
import { FlowPilotError } from '@flowpilot/engine';
import { TtlCache } from '@flowpilot/runtime';
import type { WorkspaceLimits } from '@flowpilot/store';
import type { ServerContext } from './context.js';
import { HttpProblem } from './problems.js';
import type { ServerStore } from './server-store.js';

/** Every limit, all set. */
export type EffectiveLimits = Required<WorkspaceLimits>;
export type LimitName = keyof EffectiveLimits;

export const LIMIT_NAMES = ['maxConcurrentRuns', 'maxRunDurationMs', 'maxPayloadBytes', 'maxStepsPerRun', 'apiRequestsPerMinute'] as const satisfies readonly LimitName[];

/** Defaults for one machine when neither the environment nor the workspace says otherwise. */
export const BUILTIN_LIMITS: Readonly<EffectiveLimits> = {
  maxConcurrentRuns: 1000,
  maxRunDurationMs: 24 * 60 * 60 * 1000,
  maxPayloadBytes: 512 * 1024,
  maxStepsPerRun: 10_000,
  apiRequestsPerMinute: 6000,
};

/** The environment variable that sets each default. */
export const LIMIT_ENV: Readonly<Record<LimitName, string>> = {
  maxConcurrentRuns: 'FLOWPILOT_LIMIT_MAX_CONCURRENT_RUNS',
  maxRunDurationMs: 'FLOWPILOT_LIMIT_MAX_RUN_DURATION_MS',
  maxPayloadBytes: 'FLOWPILOT_LIMIT_MAX_PAYLOAD_BYTES',
  maxStepsPerRun: 'FLOWPILOT_LIMIT_MAX_STEPS_PER_RUN',
  apiRequestsPerMinute: 'FLOWPILOT_LIMIT_API_REQUESTS_PER_MINUTE',
};

export interface LimitOptions {
  /** Default limits of every workspace (over FLOWPILOT_LIMIT_* and the built-in defaults). */
  limits?: Partial<EffectiveLimits>;
}

/** The server's defaults: built-in, then the environment, then `overrides`. A malformed value fails startup. */
export function limitDefaults(overrides: Partial<EffectiveLimits> = {}, env: NodeJS.ProcessEnv = process.env): EffectiveLimits {
  const limits = { ...BUILTIN_LIMITS };
  for (const name of LIMIT_NAMES) {
    const raw = env[LIMIT_ENV[name]];
    if (raw === undefined || raw.trim() === '') continue;
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
      throw new FlowPilotError('INVALID_CONFIG', `${LIMIT_ENV[name]} must be a positive integer, got "${raw}"`, { retryable: false });
    }
    limits[name] = Number(raw);
  }
  return { ...limits, ...definedOnly(overrides) };
}

/** A refusal naming the limit: 413 (payload), 422 (steps), 429 (concurrency, rate). */
export function limitExceeded(status: number, limit: LimitName, max: number, detail: string): HttpProblem {
  return new HttpProblem(status, 'LIMIT_EXCEEDED', detail, { limit, max });
}

const TTL_MS = 1000;

/** Workspace limits with their overrides cached for a second per process. */
export class WorkspaceLimitsService {
  readonly #cache = new TtlCache<WorkspaceLimits>(TTL_MS);

  constructor(
    private readonly store: ServerStore,
    readonly defaults: Readonly<EffectiveLimits>,
  ) {}

  /** The workspace's own values (absent = the default applies), read again when older than `maxAgeMs`. */
  async overrides(workspaceId: string, maxAgeMs = TTL_MS): Promise<WorkspaceLimits> {
    return this.#cache.get(workspaceId, async () => definedOnly((await this.store.getWorkspace(workspaceId))?.limits ?? {}), maxAgeMs);
  }

  /** The limits in force for the workspace. */
  async effective(workspaceId: string, maxAgeMs = TTL_MS): Promise<EffectiveLimits> {
    return { ...this.defaults, ...(await this.overrides(workspaceId, maxAgeMs)) };
  }

  /**
   * Changes overrides: a number sets one, null clears it (back to the default), an absent field
   * stays as it is. Returns the new overrides; false when the workspace does not exist.
   */
  async update(workspaceId: string, patch: Partial<Record<LimitName, number | null>>): Promise<WorkspaceLimits | false> {
    const workspace = await this.store.getWorkspace(workspaceId);
    if (workspace === undefined) return false;
    const next: WorkspaceLimits = definedOnly(workspace.limits);
    for (const name of LIMIT_NAMES) {
      const value = patch[name];
      if (value === null) delete next[name];
      else if (value !== undefined) next[name] = value;
    }
    if (!(await this.store.setWorkspaceLimits(workspaceId, next))) return false;
    this.#cache.set(workspaceId, next);
    return next;
  }
}

const services = new WeakMap<ServerContext, WorkspaceLimitsService>();

/** Attaches the server's limits to its context (server.ts does, once). */
export function bindLimits(context: ServerContext, service: WorkspaceLimitsService): void {
  services.set(context, service);
}

/** The limits of a server (the defaults alone when none were bound). */
export function limitsOf(context: ServerContext): WorkspaceLimitsService {
  let service = services.get(context);
  if (service === undefined) {
    service = new WorkspaceLimitsService(context.store, limitDefaults());
    services.set(context, service);
  }
  return service;
}

/** What a run start is checked against. */
export interface RunStart {
  workspaceId: string;
  input: unknown;
  /** Nodes of the workflow version the run will use. */
  nodes: number;
}

/**
 * Checks a run start against the workspace's limits, cheapest first: the input's size (413), the
 * workflow's size (422), the runs already queued or running (429). Not under a lock: starts racing
 * each other may pass together by a few runs.
 */
export async function checkRunStart(context: ServerContext, start: RunStart): Promise<void> {
  const limits = await limitsOf(context).effective(start.workspaceId);
  const bytes = Buffer.byteLength(JSON.stringify(start.input ?? {}) ?? '');
  if (bytes > limits.maxPayloadBytes) {
    throw limitExceeded(413, 'maxPayloadBytes', limits.maxPayloadBytes, `the run input is ${bytes} bytes of JSON; this workspace allows at most ${limits.maxPayloadBytes}`);
  }
  if (start.nodes > limits.maxStepsPerRun) {
    throw limitExceeded(422, 'maxStepsPerRun', limits.maxStepsPerRun, `the workflow has ${start.nodes} nodes; a run of this workspace may execute at most ${limits.maxStepsPerRun} steps`);
  }
  await checkConcurrentRuns(context, start.workspaceId, limits);
}

/**
 * A workspace's unfinished runs as last counted, plus the starts this process let through since.
 * Far below the limit a fresh count (under {@link COUNT_TTL_MS} old) is good enough, so a webhook
 * under load does not count the workspace's runs on every request; near it, every start counts.
 */
interface ActiveRunsCount {
  count: number;
  at: number;
  startedSince: number;
}

const COUNT_TTL_MS = 200;
/** Below this share of the limit the estimate decides; above it the store counts exactly. */
const ESTIMATE_SHARE = 0.8;
const activeRuns = new WeakMap<ServerContext, Map<string, ActiveRunsCount>>();

/** 429 when the workspace already has its maximum of unfinished runs (queued, running, waiting or paused). */
export async function checkConcurrentRuns(context: ServerContext, workspaceId: string, limits?: EffectiveLimits): Promise<void> {
  const { maxConcurrentRuns } = limits ?? (await limitsOf(context).effective(workspaceId));
  let counts = activeRuns.get(context);
  if (counts === undefined) activeRuns.set(context, (counts = new Map()));
  const known = counts.get(workspaceId);
  const now = Date.now();
  if (known !== undefined && now - known.at < COUNT_TTL_MS && known.count + known.startedSince + 1 < maxConcurrentRuns * ESTIMATE_SHARE) {
    known.startedSince += 1;
    return;
  }
  const active = await context.store.countActiveRuns(workspaceId, maxConcurrentRuns);
  counts.set(workspaceId, { count: active, at: now, startedSince: 1 });
  if (active >= maxConcurrentRuns) {
    throw limitExceeded(429, 'maxConcurrentRuns', maxConcurrentRuns, `this workspace already has ${maxConcurrentRuns} runs queued or running; wait for some to finish`);
  }
}

function definedOnly(limits: Partial<Record<LimitName, number | undefined>>): WorkspaceLimits {
  const out: WorkspaceLimits = {};
  for (const name of LIMIT_NAMES) {
    const value = limits[name];
    if (typeof value === 'number') out[name] = value;
  }
  return out;
}
