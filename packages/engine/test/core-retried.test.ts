import { describe, expect, test } from 'vitest';
import { replayEvents } from '@flowpilot/engine';
import { Driver, edge, noop, planOf } from './core-helpers.js';

const started = (commands: ReturnType<Driver['apply']>): string[] =>
  commands.flatMap((command) => (command.type === 'startStep' ? [`${command.nodeId}#${command.attempt}`] : []));

describe('run.retried', () => {
  // a → b → c, and a → d (parallel branch)
  const plan = planOf([noop('a'), noop('b'), noop('c'), noop('d')], [edge('a', 'b'), edge('b', 'c'), edge('a', 'd')]);

  function failedRun(): Driver {
    const driver = new Driver(plan);
    driver.start(0);
    driver.succeed('a', 1);
    driver.fail('b', 2, { retryable: false });
    return driver;
  }

  test('an unhandled failure stops the run without skipping anything downstream', () => {
    const driver = failedRun();
    expect(driver.state.status).toBe('failed');
    expect(driver.step('b').status).toBe('failed');
    expect(driver.step('c').status).toBe('cancelled');
    expect(driver.step('d').status).toBe('cancelled');
  });

  test('restarts failed and cancelled steps, keeps succeeded outputs, continues attempt numbers', () => {
    const driver = failedRun();
    const commands = driver.apply({ type: 'run.retried', at: 10 });
    expect(driver.state.status).toBe('running');
    expect(driver.state.error).toBeUndefined();
    // d was in flight (attempt 1) when b failed, so it was cancelled and gets attempt 2.
    expect(started(commands).sort()).toEqual(['b#2', 'd#2']);
    expect(driver.step('a')).toMatchObject({ status: 'succeeded', attempts: 1, output: 'a-out' });
    driver.succeed('b', 11);
    driver.succeed('d', 12);
    const last = driver.succeed('c', 13);
    expect(driver.state.status).toBe('succeeded');
    expect(last.at(-1)).toMatchObject({ type: 'completeRun', status: 'succeeded' });
    expect(driver.state.output).toEqual({ c: 'c-out', d: 'd-out' });
  });

  test('is ignored for runs that did not fail or were not cancelled', () => {
    const driver = new Driver(plan);
    driver.start(0);
    expect(driver.apply({ type: 'run.retried', at: 1 })).toEqual([]);
    expect(driver.state.status).toBe('running');
  });

  test('a cancelled run can be retried, and replay of the whole history gives the same state', () => {
    const driver = new Driver(plan);
    driver.start(0);
    driver.succeed('a', 1);
    driver.apply({ type: 'run.cancelled', at: 2, reason: 'stop' });
    expect(driver.state.status).toBe('cancelled');
    expect(started(driver.apply({ type: 'run.retried', at: 3 })).sort()).toEqual(['b#2', 'd#2']);
    driver.succeed('b', 4);
    driver.succeed('d', 5);
    driver.succeed('c', 6);
    const replayed = replayEvents(plan, driver.runId, driver.events);
    expect(replayed.status).toBe('succeeded');
    expect(replayed.steps).toEqual(driver.state.steps);
    expect(replayed.output).toEqual(driver.state.output);
  });
});
