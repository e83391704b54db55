/**
 * `flowpilot serve`: the API, webhooks, schedules and (unless told not to) an embedded worker, on
 * one port. Any number of these may share one PostgreSQL database.
 */
import fastifyWebsocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { NodeRegistry } from '@flowpilot/engine';
import { systemClock, type Clock } from '@flowpilot/runtime';
import type { SecretKey } from '@flowpilot/vault';
import { DurableEngine, storeCredentials, storeWorkflowLoader, Worker } from '@flowpilot/worker';
import { AuditWriter } from './audit.js';
import { createApp, type AppOptions } from './app.js';
import { bootstrapApiKey } from './auth.js';
import { authGuard } from './auth/guard.js';
import { DEFAULT_REFRESH_TOKEN_TTL_MS, Sessions } from './auth/sessions.js';
import { AccessTokens, DEFAULT_ACCESS_TOKEN_TTL_SECONDS } from './auth/tokens.js';
import type { ServerContext } from './context.js';
import { EventHub } from './event-hub.js';
import { bindLimits, limitDefaults, WorkspaceLimitsService, type LimitOptions } from './limits.js';
import { apiRateLimit } from './limits-rate.js';
import { Metrics } from './metrics.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import { credentialRoutes } from './routes/credentials.js';
import { eventRoutes, type StreamRegistry } from './routes/events.js';
import { hookRoutes, type HookOptions } from './routes/hooks.js';
import { invitationRoutes } from './routes/invitations.js';
import { keyRoutes } from './routes/keys.js';
import { limitRoutes } from './routes/limits.js';
import { runRoutes } from './routes/runs.js';
import { systemRoutes } from './routes/system.js';
import { workflowRoutes } from './routes/workflows.js';
import { workspaceRoutes } from './routes/workspaces.js';
import { Scheduler } from './scheduler.js';
import type { ServerStore } from './server-store.js';

export interface ServerOptions extends AppOptions, HookOptions, LimitOptions {
  store: ServerStore;
  registry: NodeRegistry;
  /** Run steps in this process too (default true); `false` for API-only processes. */
  embeddedWorker?: boolean;
  workerConcurrency?: number;
  /** Bootstraps this API key (FLOWPILOT_API_KEY). */
  apiKey?: string;
  /** FLOWPILOT_SECRET_KEY (or the embedded key file): credentials and access tokens need it. */
  secretKey?: SecretKey;
  /** Lifetime of access tokens (default 15 minutes). */
  accessTokenTtlSeconds?: number;
  /** Lifetime of refresh tokens (default 30 days). */
  refreshTokenTtlMs?: number;
  clock?: Clock;
  /** How often schedules are checked (default 1 s). */
  schedulerIntervalMs?: number;
}

export interface FlowPilotServer {
  app: FastifyInstance;
  context: ServerContext;
  worker: Worker | undefined;
  /** Listens on `port` (0 = any free port); resolves to the base URL. */
  listen(port: number, host?: string): Promise<string>;
  /** Graceful: stop triggers, finish in-flight requests, say goodbye to live streams, drain the worker. */
  close(): Promise<void>;
}

export async function createServer(options: ServerOptions): Promise<FlowPilotServer> {
  const { store, registry } = options;
  const clock = options.clock ?? systemClock;
  let worker: Worker | undefined;
  const metrics = new Metrics({ queueDepth: () => store.queueDepth(clock.now()), activeWorkers: () => (worker === undefined ? 0 : 1) });
  const limits = new WorkspaceLimitsService(store, limitDefaults(options.limits));
  const engine = new DurableEngine({
    store,
    registry,
    clock,
    // The engine caches them itself (a second): read the store, not this cache, when it asks.
    runLimits: (workspaceId) => limits.effective(workspaceId, 0),
    onCommitted: (notices) => {
      for (const notice of notices) if (notice.finished) metrics.runsFinished.inc({ status: notice.status });
    },
  });
  const hub = new EventHub(store);
  const context: ServerContext = { store, engine, registry, hub, metrics, audit: new AuditWriter(store), now: () => clock.now(), secretKey: options.secretKey };
  bindLimits(context, limits);
  await bootstrapApiKey(store, options.apiKey);
  const accessTokens = options.secretKey === undefined ? undefined : new AccessTokens(options.secretKey, options.accessTokenTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS, context.now);
  const sessions = accessTokens === undefined ? undefined : new Sessions(store, accessTokens, options.refreshTokenTtlMs ?? DEFAULT_REFRESH_TOKEN_TTL_MS, context.now);

  const app = await createApp(options);
  const streams: StreamRegistry = new Set();
  await app.register(fastifyWebsocket);
  systemRoutes(app, context);
  await app.register(async (api) => {
    api.addHook('onRequest', authGuard(context, accessTokens));
    await apiRateLimit(api, context);
    authRoutes(api, context, sessions);
    workspaceRoutes(api, context);
    invitationRoutes(api, context);
    keyRoutes(api, context);
    credentialRoutes(api, context);
    workflowRoutes(api, context);
    runRoutes(api, context);
    eventRoutes(api, context, streams);
    auditRoutes(api, context);
    limitRoutes(api, context);
  }, { prefix: '/api/v1' });
  await app.register(async (hooks) => hookRoutes(hooks, context, options));
  await app.ready();

  hub.start();
  const scheduler = new Scheduler(context, clock, options.schedulerIntervalMs ?? 1000, app.log);
  scheduler.start();
  if (options.embeddedWorker !== false) {
    worker = new Worker({
      engine,
      clock,
      concurrency: options.workerConcurrency ?? 64,
      loadWorkflow: storeWorkflowLoader(store),
      credentials: storeCredentials(store, options.secretKey),
      onAttempt: (info) => metrics.stepDuration.observe({ node_type: info.nodeType, outcome: info.outcome }, info.durationMs / 1000),
    });
    worker.start();
  }

  return {
    app,
    context,
    worker,
    listen: async (port, host = '0.0.0.0') => {
      const address = await app.listen({ port, host });
      return address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');
    },
    close: async () => {
      scheduler.stop();
      for (const stream of streams) {
        stream.send([{ event: 'shutdown', data: { reason: 'server shutting down' } }]);
        stream.close();
      }
      await app.close();
      hub.stop();
      await worker?.stop(Number(process.env.FLOWPILOT_DRAIN_MS ?? 30_000));
    },
  };
}
