/**
 * Consumer groups with confluent-kafka-python (librdkafka), once with the
 * eager `range` assignor and once with `cooperative-sticky`:
 *
 *  - 3 member processes share a 6-partition topic, no partition owned twice;
 *  - a 4th member joins, one leaves (clean close: LeaveGroup), one is killed
 *    (SIGKILL: the session times out); after each rebalance the records then
 *    produced to all 6 partitions are each consumed by exactly one remaining
 *    member, the one the group assigned that partition to;
 *  - the committed offsets (read with OffsetFetch the whole time) never go
 *    backwards, and end at the log end offsets.
 *
 * Each member is a process running test/interop/py/groups_consumer.py, which
 * reports its owned partitions and records as JSON lines.
 */
import { describe, test } from 'node:test';
import { pyGroupRebalanceScenario, useGroupsCluster } from '../helpers/groups.ts';

const cluster = useGroupsCluster('groups-confluent-test');

for (const strategy of ['range', 'cooperative-sticky']) {
  describe(`confluent-kafka-python, partition.assignment.strategy=${strategy}`, () => {
    test('members share the partitions; join, leave and kill rebalance; every partition is consumed again; commits never go backwards', () =>
      pyGroupRebalanceScenario(cluster, {
        topic: `groups-ck-${strategy}`,
        groupId: `g-ck-${strategy}`,
        client: 'confluent',
        strategy,
        extraArgs: ['--debug-cgrp'],
        memberDiag: (m) => ({ history: m.events.filter((e) => e.ev !== 'rec' && e.ev !== 'commit').slice(-8) }),
      }));
  });
}
