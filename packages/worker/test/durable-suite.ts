/**
 * The durable-execution suite, written once and run against every backend by swapping the store
 * factory (durable-sqlite.test.ts, durable-postgres.test.ts). One database per test file; each test
 * gets a fresh `Harness` (its own engine and workers) and cleans up after itself.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe } from 'vitest';
import type { Store } from '@flowpilot/store';
import { admissionSuite } from './durable/admission.js';
import { commitsSuite } from './durable/commits.js';
import { controlSuite } from './durable/control.js';
import { examplesSuite } from './durable/examples.js';
import { leasesSuite } from './durable/leases.js';
import { payloadsSuite } from './durable/payloads.js';
import { replaySuite } from './durable/replay.js';
import { scaleSuite } from './durable/scale.js';
import { timersSuite } from './durable/timers.js';
import { Harness, probes, withTimeout, type BackendFactory, type DurableBackend, type DurableSuite } from './helpers.js';

const SUITES: readonly DurableSuite[] = [examplesSuite, timersSuite, controlSuite, admissionSuite, payloadsSuite, leasesSuite, commitsSuite, replaySuite, scaleSuite];

export function describeDurable(name: string, makeBackend: BackendFactory): void {
  describe(name, () => {
    let backend: DurableBackend | undefined;
    let store: Store | undefined;
    let current: Harness | undefined;

    beforeAll(async () => {
      backend = await makeBackend();
      store = await backend.open();
    }, 30_000);

    beforeEach(() => {
      probes.reset();
      current = new Harness(backend!, store!);
    });

    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    }, 30_000);

    afterAll(async () => {
      if (store !== undefined) await withTimeout(store.close(), 5000, 'store.close').catch(() => backend?.kill(store!));
      await backend?.dispose();
    }, 30_000);

    const harness = (): Harness => {
      if (current === undefined) throw new Error('the harness exists only inside a test');
      return current;
    };
    for (const suite of SUITES) suite(harness);
  });
}
