/** What route modules share: the store, the durable engine and the live-event hub. */
import type { NodeRegistry } from '@flowpilot/engine';
import type { DurableEngine } from '@flowpilot/worker';
import type { EventHub } from './event-hub.js';
import type { Metrics } from './metrics.js';
import type { ServerStore } from './server-store.js';

export interface ServerContext {
  store: ServerStore;
  engine: DurableEngine;
  registry: NodeRegistry;
  hub: EventHub;
  metrics: Metrics;
  now(): number;
}
