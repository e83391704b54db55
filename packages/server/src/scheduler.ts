/** Fires schedule triggers: every interval, due ticks are taken (exactly once across processes) and started. */
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '@flowpilot/runtime';
import { auditAs } from './audit.js';
import type { ServerContext } from './context.js';
import { planTick } from './schedule-math.js';

export class Scheduler {
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(
    private readonly ctx: ServerContext,
    private readonly clock: Clock,
    private readonly intervalMs: number,
    /** Where failures to record an audit entry are logged. */
    private readonly log: FastifyBaseLogger,
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
      for (const { runId, schedule } of started) {
        const actor = { workspaceId: schedule.workspaceId, actorType: 'system' as const, actorId: `schedule:${schedule.workflowId}/${schedule.nodeId}` };
        await auditAs(this.log, this.ctx, actor, { action: 'run.start', resourceType: 'run', resourceId: runId, details: { workflowId: schedule.workflowId, trigger: 'schedule' } });
      }
      return started.map(({ runId }) => runId);
    } catch {
      return [];
    } finally {
      this.#running = false;
    }
  }
}
