/**
 * The first offset commits on a fresh broker, several at once: the first one
 * creates __consumer_offsets, others arrive while its partitions are being
 * opened. Each commit (each client commits back to back, each commit for
 * another group, so on different __consumer_offsets partitions) must be
 * answered: NONE, or a retriable coordinator error (NOT_COORDINATOR,
 * COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE) that clients
 * retry; never a closed connection. Every commit answered NONE is read back
 * by OffsetFetch. The window is short, so the test starts ATTEMPTS fresh
 * brokers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaClient } from '../../src/client/index.ts';
import { ErrorCode, errorName } from '../../src/protocol/error-codes.ts';
import { startTestBroker } from '../helpers/broker.ts';

const ATTEMPTS = 3;
const CLIENTS = 8;
const ROUNDS = 20;
const TOPIC = 'first-commits';
const RETRIABLE = new Set<number>([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
]);

const commit = (c: KafkaClient, groupId: string, offset: number) =>
  c.groupRequestRaw(groupId, 'OffsetCommit', {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: TOPIC,
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: offset,
            committedLeaderEpoch: -1,
            commitTimestamp: -1,
            committedMetadata: null,
          },
        ],
      },
    ],
  });

test('first commits while __consumer_offsets is created are each answered, none closes the connection', async () => {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const broker = await startTestBroker();
    const clients = [...Array(CLIENTS).keys()].map(
      (i) => new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: `first-commit-${i}` }),
    );
    try {
      await clients[0].createTopics([{ name: TOPIC, numPartitions: 1, replicationFactor: 1 }]);
      const failures: string[] = [];
      const answered: { c: KafkaClient; groupId: string; offset: number; code: number }[] = [];
      await Promise.all(
        clients.map(async (c, i) => {
          for (let r = 0; r < ROUNDS; r++) {
            const groupId = `first-commit-c${i}-r${r}`;
            const offset = 100 * i + r;
            try {
              const res = await commit(c, groupId, offset);
              answered.push({ c, groupId, offset, code: res.topics[0].partitions[0].errorCode });
            } catch (e) {
              failures.push(`${groupId}: ${e}`);
            }
          }
        }),
      );
      assert.deepEqual(failures, [], `attempt ${attempt + 1}: every commit is answered`);
      for (const a of answered) {
        assert.ok(a.code === ErrorCode.NONE || RETRIABLE.has(a.code), `${a.groupId}: ${errorName(a.code)}`);
        if (a.code === ErrorCode.NONE) {
          const [fetched] = await a.c.offsetFetch(a.groupId, [{ topic: TOPIC, partitions: [0] }]);
          assert.equal(fetched.offset, a.offset, `${a.groupId}'s committed offset`);
        }
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await broker.close();
    }
  }
});
