/** Fires schedule triggers: every interval, due ticks are taken (exactly once across processes) and started. */
import type { Clock } from '@flowpilot/runtime';
import type { ServerContext } from './context.js';
import { planTick } from './schedule-math.js';

export class Scheduler {
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(
    private readonly ctx: ServerContext,
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.#timer ??= setInterval(() => void this.tick(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One pass: fire what is due now. Returns the ids of the runs started. */
  async tick(): Promise<string[]> {
    if (this.#running) return [];
    this.#running = true;
    try {
      const now = this.clock.now();
      const started = await this.ctx.engine.fireDueSchedules(now, (schedule) => planTick({ cron: schedule.cron, timezone: schedule.timezone, catchUp: schedule.catchUp }, schedule.nextFireAt ?? now, now));
      if (started.length > 0) this.ctx.metrics.runsStarted.inc({ trigger: 'schedule' }, started.length);
      return started;
    } catch {
      return [];
    } finally {
      this.#running = false;
    }
  }
}
