/**
 * The ElectLeaders (43) handler on a controller over an in-memory quorum,
 * through the real codecs at each version: v0 carries no election type
 * (PREFERRED) and no top-level error code, so a refusal such as
 * NOT_CONTROLLER is also in every partition's result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Controller } from '../../../src/metadata/controller.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { MemoryQuorum } from '../../helpers/memory-quorum.ts';
import { electLeadersHandler } from '../../../src/server/handlers/elect-leaders.ts';
import type { RequestContext } from '../../../src/server/dispatcher.ts';
import { apiByName } from '../../../src/protocol/apis.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import type {
  ElectLeadersRequestInput,
  ElectLeadersResponse,
  ElectLeadersResponseInput,
} from '../../../src/protocol/generated/messages.ts';

async function call(
  handler: ReturnType<typeof electLeadersHandler>,
  version: number,
  body: ElectLeadersRequestInput,
): Promise<ElectLeadersResponse> {
  const api = apiByName('ElectLeaders');
  const w = new Writer(256);
  api.requestEncoder(version)(w, body);
  const req = api.requestDecoder(version)(new Reader(Buffer.concat(w.chunks() as Buffer[])));
  const ctx = { apiKey: api.key, apiVersion: version, correlationId: 1, clientId: 't', conn: undefined };
  const res = (await handler(req as never, ctx as unknown as RequestContext)) as ElectLeadersResponseInput;
  const rw = new Writer(256);
  api.responseEncoder(version)(rw, res);
  return api.responseDecoder(version)(new Reader(Buffer.concat(rw.chunks() as Buffer[]))) as ElectLeadersResponse;
}

function world() {
  const log = new MemoryQuorum(0);
  const image = new MetadataImage();
  image.clusterId = 'c';
  const controller = new Controller(log, image, {
    nodeId: 0,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
  });
  // brokers 1 and 2 live; t-0 has replicas [1, 2] led by 2 (not its preferred replica), both in sync
  image.applyBatch(
    [
      ...[1, 2].map((nodeId) => ({
        type: 'RegisterBroker' as const,
        nodeId,
        incarnationId: `i${nodeId}`,
        listeners: [],
        rack: null,
        fenced: false,
      })),
      { type: 'Topic', name: 't', topicId: 'id-t' },
      {
        type: 'Partition',
        topicId: 'id-t',
        partition: 0,
        replicas: [1, 2],
        isr: [1, 2],
        leader: 2,
        leaderEpoch: 3,
        partitionEpoch: 3,
      },
    ],
    2,
  );
  return { log, image, controller, handler: electLeadersHandler(controller) };
}

test('v0 elects the preferred replica whatever the request holds; v1+ take the election type', async () => {
  const w = world();
  // UNCLEAN on a partition with a leader: not needed
  let r = await call(w.handler, 2, { electionType: 1, topicPartitions: [{ topic: 't', partitions: [0] }] });
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.deepEqual(r.replicaElectionResults[0].partitionResult[0].errorCode, ErrorCode.ELECTION_NOT_NEEDED);
  r = await call(w.handler, 0, { topicPartitions: [{ topic: 't', partitions: [0] }] });
  assert.deepEqual(
    r.replicaElectionResults.map((t) => [t.topic, t.partitionResult.map((p) => [p.partitionId, p.errorCode])]),
    [['t', [[0, ErrorCode.NONE]]]],
  );
  const p = w.image.topicsByName.get('t')!.partitions[0];
  assert.deepEqual([p.leader, p.leaderEpoch], [1, 4]);
});

test('not the active controller: NOT_CONTROLLER at the top (v1+) and in each partition (v0 too)', async () => {
  const w = world();
  w.log.setActive(false);
  for (const version of [0, 1, 2]) {
    const r = await call(w.handler, version, {
      electionType: 0,
      topicPartitions: [{ topic: 't', partitions: [0, 5] }],
    });
    if (version >= 1) assert.equal(r.errorCode, ErrorCode.NOT_CONTROLLER);
    assert.deepEqual(
      r.replicaElectionResults[0].partitionResult.map((x) => x.errorCode),
      [ErrorCode.NOT_CONTROLLER, ErrorCode.NOT_CONTROLLER],
    );
  }
  assert.equal(w.image.topicsByName.get('t')!.partitions[0].leader, 2, 'nothing elected');
});

test('an unknown election type is INVALID_REQUEST', async () => {
  const w = world();
  const r = await call(w.handler, 2, { electionType: 7, topicPartitions: null });
  assert.equal(r.errorCode, ErrorCode.INVALID_REQUEST);
  assert.deepEqual(r.replicaElectionResults, []);
});
