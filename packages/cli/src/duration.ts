/** Durations on the command line: `30d`, `12h`, `90m`, `45s`, `500ms`. */
import { FlowPilotError } from '@flowpilot/engine';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseDuration(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (match === null) {
    throw new FlowPilotError('INVALID_ARGUMENT', `${option}: "${text}" is not a duration (use e.g. 30d, 12h, 90m, 45s, 500ms)`, { retryable: false });
  }
  return Math.round(Number(match[1]) * UNITS[match[2]!]!);
}
