import { describe, expect, test } from 'vitest';
import { replayEvents } from '@flowpilot/engine';
import { Driver, edge, noop, planOf } from './core-helpers.js';

describe('run.paused / run.resumed', () => {
  const plan = planOf([noop('a'), noop('b'), noop('c')], [edge('a', 'b'), edge('b', 'c')]);

  test('a paused run starts nothing new; in-flight steps finish; resume continues', () => {
    const driver = new Driver(plan);
    driver.start(0);
    expect(driver.apply({ type: 'run.paused', at: 1 })).toEqual([]);
    expect(driver.state.status).toBe('paused');
    // a was in flight: it may finish, but b must not start.
    expect(driver.succeed('a', 2).filter((command) => command.type === 'startStep')).toEqual([]);
    expect(driver.step('b').status).toBe('pending');
    expect(driver.state.status).toBe('paused');
    const resumed = driver.apply({ type: 'run.resumed', at: 3 });
    expect(resumed).toEqual([{ type: 'startStep', nodeId: 'b', attempt: 1, inputs: ['a'] }]);
    expect(driver.state.status).toBe('running');
    driver.succeed('b', 4);
    driver.succeed('c', 5);
    expect(driver.state.status).toBe('succeeded');
    expect(replayEvents(plan, driver.runId, driver.events).steps).toEqual(driver.state.steps);
  });

  test('pausing twice, resuming a running run, or pausing a pending or finished run does nothing', () => {
    const driver = new Driver(plan);
    expect(driver.apply({ type: 'run.paused', at: 0 })).toEqual([]);
    expect(driver.state.status).toBe('pending');
    driver.start(1);
    expect(driver.apply({ type: 'run.resumed', at: 2 })).toEqual([]);
    driver.apply({ type: 'run.paused', at: 3 });
    expect(driver.apply({ type: 'run.paused', at: 4 })).toEqual([]);
    expect(driver.state.status).toBe('paused');
  });

  test('log events are recorded history only', () => {
    const driver = new Driver(plan);
    driver.start(0);
    const before = JSON.stringify(driver.state.steps);
    expect(driver.apply({ type: 'step.log', at: 1, nodeId: 'a', attempt: 1, level: 'info', message: 'hello' })).toEqual([]);
    expect(JSON.stringify(driver.state.steps)).toBe(before);
  });
});
