/** Cron arithmetic for schedule triggers (croner does the parsing; this decides catch-up). */
import { Cron } from 'croner';

/** The first tick strictly after `after` (ms), or undefined when the expression never fires again. */
export function nextTick(cron: string, timezone: string | undefined, after: number): number | undefined {
  const job = new Cron(cron, { timezone: timezone ?? 'UTC', paused: true });
  try {
    return job.nextRun(new Date(after))?.getTime();
  } finally {
    job.stop();
  }
}

/**
 * A schedule's tick `due` has come at `now`. Decide whether to fire it and what the next due tick
 * is: ticks missed while nothing ran fire once (`catchUp: "one"`) or not at all (`"none"`, except
 * the tick that is due right now, within `graceMs`).
 */
export function planTick(
  schedule: { cron: string; timezone?: string; catchUp: 'one' | 'none' },
  due: number,
  now: number,
  graceMs = 60_000,
): { fire: boolean; next: number | undefined } {
  const next = nextTick(schedule.cron, schedule.timezone, now);
  const late = now - due > graceMs;
  return { fire: !late || schedule.catchUp === 'one', next };
}
