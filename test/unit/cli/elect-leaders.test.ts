// `samsa cluster elect-leaders` against a fake broker (a real SocketServer + Dispatcher with canned answers): the
// request it sends for each flag combination, the table and JSON it prints, and its exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { runCli } from '../../../src/cli/main.ts';
import { Dispatcher } from '../../../src/server/dispatcher.ts';
import { SocketServer } from '../../../src/server/socket-server.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import type { ElectLeadersRequest, ElectLeadersResponseInput } from '../../../src/protocol/generated/messages.ts';

async function withFakeBroker(
  answer: (req: ElectLeadersRequest) => ElectLeadersResponseInput,
  fn: (bootstrap: string, requests: ElectLeadersRequest[]) => Promise<void>,
): Promise<void> {
  const requests: ElectLeadersRequest[] = [];
  const d = new Dispatcher();
  let port = 0;
  d.register('ApiVersions', {
    handler: () => ({ errorCode: 0, apiKeys: d.supportedApis(), throttleTimeMs: 0 }),
  });
  d.register('Metadata', {
    handler: (req) => ({
      throttleTimeMs: 0,
      clusterId: 'c',
      controllerId: 1,
      brokers: [{ nodeId: 1, host: '127.0.0.1', port, rack: null }],
      topics: (req.topics ?? []).map((t) =>
        t.name === 'orders'
          ? {
              errorCode: 0,
              name: 'orders',
              topicId: '00000000-0000-0000-0000-000000000000',
              isInternal: false,
              partitions: [2, 0, 1].map((i) => ({
                errorCode: 0,
                partitionIndex: i,
                leaderId: 1,
                leaderEpoch: 0,
                replicaNodes: [1],
                isrNodes: [1],
                offlineReplicas: [],
              })),
            }
          : {
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              name: t.name,
              topicId: '00000000-0000-0000-0000-000000000000',
              isInternal: false,
              partitions: [],
            },
      ),
    }),
  });
  d.register('ElectLeaders', {
    handler: (req) => {
      requests.push(req);
      return answer(req);
    },
  });
  const s = new SocketServer(
    {
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      maxFrameBytes: 1 << 20,
      idleTimeoutMs: 0,
      maxInFlightPerConnection: 4,
      logger: pino({ level: 'silent' }),
    },
    (frame, conn) => d.handle(frame, conn),
  );
  port = (await s.listen()).port;
  s.open();
  try {
    await fn(`127.0.0.1:${port}`, requests);
  } finally {
    await s.close(100);
  }
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

/** Answers every partition asked with `code(partition)`; a null list with partition 0 of 'orders'. */
const answering =
  (code: (p: number) => number) =>
  (req: ElectLeadersRequest): ElectLeadersResponseInput => ({
    throttleTimeMs: 0,
    errorCode: 0,
    replicaElectionResults: (req.topicPartitions ?? [{ topic: 'orders', partitions: [0] }]).map((t) => ({
      topic: t.topic,
      partitionResult: t.partitions.map((p) => ({ partitionId: p, errorCode: code(p), errorMessage: null })),
    })),
  });

test('no --topic: every partition (a null list), preferred; the table says what happened', async () => {
  await withFakeBroker(
    answering(() => ErrorCode.NONE),
    async (bootstrap, requests) => {
      const r = await run(['cluster', 'elect-leaders', '-b', bootstrap]);
      assert.equal(r.code, 0, r.err);
      assert.equal(requests.length, 1);
      assert.equal(requests[0].electionType, 0);
      assert.equal(requests[0].topicPartitions, null);
      assert.equal(r.out, 'TOPIC   PARTITION  RESULT\norders          0  elected\n');
    },
  );
});

test('--topic alone: every partition of the topic; --partition: that one; --type unclean', async () => {
  await withFakeBroker(
    answering((p) => (p === 1 ? ErrorCode.ELECTION_NOT_NEEDED : ErrorCode.NONE)),
    async (bootstrap, requests) => {
      let r = await run(['cluster', 'elect-leaders', '-b', bootstrap, '--topic', 'orders', '--json']);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(
        requests[0].topicPartitions?.map((t) => [t.topic, t.partitions]),
        [['orders', [0, 1, 2]]],
      );
      assert.deepEqual(
        JSON.parse(r.out).map((x: { partition: number; error: string | null }) => [x.partition, x.error]),
        [
          [0, null],
          [1, 'ELECTION_NOT_NEEDED'],
          [2, null],
        ],
      );
      r = await run([
        'cluster',
        'elect-leaders',
        '-b',
        bootstrap,
        '--topic',
        'orders',
        '--partition',
        '2',
        '--type',
        'unclean',
      ]);
      assert.equal(r.code, 0, r.err);
      assert.equal(requests[1].electionType, 1);
      assert.deepEqual(
        requests[1].topicPartitions?.map((t) => [t.topic, t.partitions]),
        [['orders', [2]]],
      );
    },
  );
});

test('a partition that got no leader is printed with its error and the exit code is 1; bad flags are usage errors', async () => {
  await withFakeBroker(
    answering(() => ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE),
    async (bootstrap, requests) => {
      const r = await run(['cluster', 'elect-leaders', '-b', bootstrap, '--topic', 'orders', '--partition', '0']);
      assert.equal(r.code, 1);
      assert.match(r.out, /orders +0 +PREFERRED_LEADER_NOT_AVAILABLE/);
      assert.match(r.err, /1 partition\(s\) got no new leader/);

      for (const args of [
        ['--type', 'dirty'],
        ['--partition', '0'],
        ['--topic', 'orders', '--partition', 'x'],
        ['--topic', 'missing'],
      ]) {
        const bad = await run(['cluster', 'elect-leaders', '-b', bootstrap, ...args]);
        assert.equal(bad.code, 1, args.join(' '));
        assert.match(bad.err, /--type must be|--partition needs --topic|whole number|does not exist/);
      }
      assert.equal(requests.length, 1, 'nothing sent for bad flags');
    },
  );
});
