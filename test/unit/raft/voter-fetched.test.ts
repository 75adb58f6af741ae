/**
 * The leader's liveness signal for the controller: which other voters have
 * fetched from it in its epoch (RaftCore.voterFetchedThisEpoch).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Harness } from './harness.ts';

function cluster(): Harness {
  const h = new Harness([1, 2, 3]);
  // distinct election jitter, so that one node times out first
  h.add(1, { random: () => 0.1 });
  h.add(2, { random: () => 0.5 });
  h.add(3, { random: () => 0.9 });
  return h;
}

test('a new leader reports the voter that died with the old leader as not fetched, the live one as fetched', () => {
  const h = cluster();
  h.runUntil(60_000, () => h.leaders().length === 1);
  const first = h.leaders()[0]!;
  const others = [1, 2, 3].filter((id) => id !== first.id);
  h.runUntil(h.now + 1000, () => others.every((id) => first.core.voterFetchedThisEpoch(id) === true));
  for (const id of others) assert.equal(first.core.voterFetchedThisEpoch(id), true);
  // only the leader answers; itself and non-voters are not "other voters"
  assert.equal(first.core.voterFetchedThisEpoch(first.id), null);
  assert.equal(first.core.voterFetchedThisEpoch(42), null);
  for (const id of others) assert.equal(h.node(id).core.voterFetchedThisEpoch(first.id), null);

  // the leader's process dies: the others elect one of them, and it never hears from the dead one
  first.up = false;
  h.runUntil(h.now + 60_000, () => h.leaders().length === 1 && h.leaders()[0] !== first);
  const second = h.leaders()[0]!;
  const survivor = others.find((id) => id !== second.id)!;
  assert.equal(second.core.voterFetchedThisEpoch(first.id), false, 'nothing fetched yet in the new epoch');
  h.runUntil(h.now + 5000, () => second.core.voterFetchedThisEpoch(survivor) === true);
  assert.equal(second.core.voterFetchedThisEpoch(survivor), true);
  assert.equal(second.core.voterFetchedThisEpoch(first.id), false, 'the dead voter still has not fetched');
});
