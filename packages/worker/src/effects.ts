/**
 * Effects: what an event did besides its own step — steps skipped or cancelled by it, a retry it
 * scheduled, the run status it produced. The core derives them from state; they are written into
 * the stored event (the core ignores the extra field on replay) so a live event stream, replayed
 * from the store after a reconnect, tells the same story without rebuilding any state.
 */
import type { Plan, RunEvent, RunState, RunStatus } from '@flowpilot/engine';

export interface EventEffects {
  skipped?: string[];
  cancelled?: string[];
  /** For `step.failed`: the failed attempt will be retried at this time. */
  retryAt?: number;
  /** The run's status after this event, when it changed. */
  runStatus?: RunStatus;
}

/** A stored event may carry its effects. */
export type AnnotatedEvent = RunEvent & { effects?: EventEffects };

/** Tracks statuses already reported within one transition so each change is told once. */
export class EffectTracker {
  readonly #reported = new Map<number, string>();
  #runStatus: RunStatus;

  constructor(private readonly state: RunState) {
    this.#runStatus = state.status;
  }

  /** Effects of `event`, applied just now (touched steps are those changed so far in the transition). */
  effectsOf(plan: Plan, event: RunEvent): EventEffects | undefined {
    const effects: EventEffects = {};
    const own = 'nodeId' in event ? plan.byId.get(event.nodeId)?.index : undefined;
    for (const index of this.state.touched) {
      const step = this.state.steps[index]!;
      if (this.#reported.get(index) === step.status) continue;
      this.#reported.set(index, step.status);
      if (index === own) {
        if (event.type === 'step.failed' && step.status === 'waiting' && step.retryAt !== undefined) effects.retryAt = step.retryAt;
        continue;
      }
      if (step.status === 'skipped') (effects.skipped ??= []).push(plan.nodes[index]!.id);
      if (step.status === 'cancelled') (effects.cancelled ??= []).push(plan.nodes[index]!.id);
    }
    if (this.state.status !== this.#runStatus) {
      this.#runStatus = this.state.status;
      effects.runStatus = this.state.status;
    }
    return Object.keys(effects).length === 0 ? undefined : effects;
  }
}
