/** What route modules share: the store, the durable engine and the live-event hub. */
import type { NodeRegistry } from '@flowpilot/engine';
import type { AuditEntry } from '@flowpilot/store';
import type { SecretKey } from '@flowpilot/vault';
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
  /** Appends audit entries (`AuditWriter`: batched per turn of the event loop). */
  audit: { append(entry: Omit<AuditEntry, 'id'>): Promise<void> };
  /**
   * Encrypts credentials and (through HKDF) signs access tokens. Absent on a PostgreSQL deployment
   * without FLOWPILOT_SECRET_KEY: then logins and credentials answer 503, API keys still work.
   */
  secretKey?: SecretKey;
  now(): number;
}
