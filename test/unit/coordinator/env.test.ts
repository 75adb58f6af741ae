/**
 * The simulated environment the coordinators' determinism tests (and the
 * cluster simulator) run on, and the DeadlineTimer over it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedEnv } from '../../../src/util/env.ts';
import { DeadlineTimer } from '../../../src/coordinator/group/deadline-timer.ts';

test('SimulatedEnv: timers fire in deadline order (ties in the order set), each with the clock at its deadline; cancelled ones never', () => {
  const env = new SimulatedEnv(1, 1000);
  const fired: string[] = [];
  env.setTimer(300, () => fired.push(`c@${env.now()}`));
  env.setTimer(100, () => {
    fired.push(`a@${env.now()}`);
    // set while firing, and due within the same advance
    env.setTimer(50, () => fired.push(`d@${env.now()}`));
  });
  env.setTimer(100, () => fired.push(`b@${env.now()}`));
  env.setTimer(200, () => fired.push('never')).cancel();
  env.setTimer(1000, () => fired.push(`late@${env.now()}`));
  env.advance(500);
  assert.deepEqual(fired, ['a@1100', 'b@1100', 'd@1150', 'c@1300']);
  assert.equal(env.now(), 1500);
  assert.equal(env.pendingTimers, 1);
  env.advance(500);
  assert.deepEqual(fired.at(-1), 'late@2000');
});

test('SimulatedEnv: ids and random numbers are a function of the seed', () => {
  const draw = (seed: number) => {
    const env = new SimulatedEnv(seed);
    return { ids: [env.uuid(), env.uuid(), env.uuid()], r: [env.random(), env.random()] };
  };
  assert.deepEqual(draw(5), draw(5));
  assert.notDeepEqual(draw(5).ids, draw(6).ids);
  for (const id of draw(0).ids)
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(draw(0).ids).size, 3);
  for (const r of draw(9).r) assert.ok(r >= 0 && r < 1);
});

test('DeadlineTimer over a simulated clock: re-armed when the deadline moves, fires once, silent after close', () => {
  const env = new SimulatedEnv(1, 0);
  let fired = 0;
  const t = new DeadlineTimer(() => fired++, env);
  t.schedule(100);
  t.schedule(50);
  env.advance(60);
  assert.equal(fired, 1, 'at the moved deadline only');
  env.advance(100);
  assert.equal(fired, 1);
  t.schedule(200);
  t.schedule(Infinity);
  env.advance(200);
  assert.equal(fired, 1, 'Infinity disarms');
  t.schedule(400);
  t.close();
  env.advance(1000);
  assert.equal(fired, 1);
  assert.equal(env.pendingTimers, 0);
});
