/**
 * Prometheus metrics (`/metrics`): runs started and finished by status, step duration by node type,
 * queue depth and active workers. Each server has its own registry, so tests can run several.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly runsStarted = new Counter({ name: 'flowpilot_runs_started_total', help: 'Runs started', labelNames: ['trigger'], registers: [this.registry] });
  readonly runsFinished = new Counter({ name: 'flowpilot_runs_finished_total', help: 'Runs finished, by status', labelNames: ['status'], registers: [this.registry] });
  readonly stepDuration = new Histogram({
    name: 'flowpilot_step_duration_seconds',
    help: 'Step attempt duration, by node type',
    labelNames: ['node_type', 'outcome'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [this.registry],
  });
  readonly queueDepth: Gauge;
  readonly activeWorkers: Gauge;

  constructor(sources: { queueDepth(): Promise<number>; activeWorkers(): number }) {
    this.queueDepth = new Gauge({
      name: 'flowpilot_queue_depth',
      help: 'Ready steps not yet claimed',
      registers: [this.registry],
      async collect() {
        this.set(await sources.queueDepth().catch(() => Number.NaN));
      },
    });
    this.activeWorkers = new Gauge({
      name: 'flowpilot_active_workers',
      help: 'Workers running in this process',
      registers: [this.registry],
      collect() {
        this.set(sources.activeWorkers());
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'flowpilot_process_' });
  }
}
