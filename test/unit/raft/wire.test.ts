/**
 * The quorum's messages through Kafka's codecs (src/raft/wire.ts): every
 * Raft request and response survives request -> Kafka body -> bytes at each
 * version the quorum may negotiate -> decoded body -> Raft message; requests
 * that are not for `__cluster_metadata-0`, offsets beyond 2^53 and records that
 * are not whole valid batches are WireErrors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiByName } from '../../../src/protocol/apis.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { encodeBatch } from '../../../src/protocol/records/record-batch.ts';
import { setBaseOffset, setPartitionLeaderEpoch } from '../../../src/protocol/records/batch-header.ts';
import {
  METADATA_TOPIC_ID,
  type RaftApiName,
  WireError,
  errorToWire,
  requestFromWire,
  requestToWire,
  responseFromWire,
  responseToWire,
} from '../../../src/raft/wire.ts';
import type { RaftRequest, RaftResponse } from '../../../src/raft/types.ts';

function bytes(api: RaftApiName, dir: 'request' | 'response', v: number, body: unknown): Buffer {
  const a = apiByName(api);
  const w = new Writer(64);
  (dir === 'request' ? a.requestEncoder(v) : a.responseEncoder(v))(w, body);
  return w.toBuffer();
}

function decode(api: RaftApiName, dir: 'request' | 'response', v: number, buf: Buffer): any {
  const a = apiByName(api);
  const r = new Reader(buf);
  const out = (dir === 'request' ? a.requestDecoder(v) : a.responseDecoder(v))(r);
  assert.equal(r.pos, buf.length);
  return out;
}

function batches(...specs: { base: number; n: number; epoch: number }[]): Buffer {
  return Buffer.concat(
    specs.map(({ base, n, epoch }) => {
      const b = encodeBatch({
        baseTimestamp: 1,
        records: Array.from({ length: n }, (_, i) => ({ value: `v${base + i}` })),
      });
      setBaseOffset(b, 0, base);
      setPartitionLeaderEpoch(b, 0, epoch);
      return b;
    }),
  );
}

const requests: RaftRequest[] = [
  {
    kind: 'Vote',
    clusterId: 'c1',
    candidateEpoch: 7,
    candidateId: 2,
    lastOffsetEpoch: 6,
    lastOffset: 99,
    preVote: true,
  },
  {
    kind: 'Vote',
    clusterId: null,
    candidateEpoch: 8,
    candidateId: 3,
    lastOffsetEpoch: 6,
    lastOffset: 5e12,
    preVote: false,
  },
  { kind: 'BeginQuorumEpoch', clusterId: 'c1', leaderId: 2, leaderEpoch: 7 },
  { kind: 'EndQuorumEpoch', clusterId: 'c1', leaderId: 2, leaderEpoch: 7, preferredSuccessors: [3, 1] },
  {
    kind: 'Fetch',
    clusterId: 'c1',
    replicaId: 3,
    replicaEpoch: 7,
    fetchOffset: 120,
    lastFetchedEpoch: 6,
    maxWaitMs: 500,
  },
  {
    kind: 'FetchSnapshot',
    clusterId: null,
    replicaId: 3,
    replicaEpoch: 7,
    snapshotId: { offset: 100, epoch: 5 },
    position: 4096,
    maxBytes: 65536,
  },
];

/** Versions to check per API: the oldest and newest each side could negotiate. */
const versions: Record<RaftApiName, number[]> = {
  Vote: [2],
  BeginQuorumEpoch: [0, 1],
  EndQuorumEpoch: [0, 1],
  Fetch: [12, 13, 15, 16, 17],
  FetchSnapshot: [0, 1],
};

test('requests survive the trip through Kafka bodies at every version the quorum uses', () => {
  for (const req of requests) {
    for (const v of versions[req.kind]) {
      const body = decode(req.kind, 'request', v, bytes(req.kind, 'request', v, requestToWire(req, 1)));
      const { from, request } = requestFromWire(req.kind, body);
      assert.deepEqual(request, req, `${req.kind} v${v}`);
      const expectedFrom =
        req.kind === 'Vote'
          ? req.candidateId
          : 'leaderId' in req
            ? req.leaderId
            : (req as { replicaId: number }).replicaId;
      assert.equal(from, expectedFrom);
      if (req.kind === 'Fetch') assert.equal(body.topics[0].topicId === METADATA_TOPIC_ID, v >= 13);
    }
  }
});

test('responses survive the trip, with the fields Kafka carries in tagged fields', () => {
  const chunk = batches({ base: 10, n: 2, epoch: 3 }, { base: 12, n: 1, epoch: 4 });
  const cases: [RaftRequest, RaftResponse<Buffer>][] = [
    [
      requests[0],
      { kind: 'VoteResponse', errorCode: 0, leaderId: -1, leaderEpoch: 7, voteGranted: true, preVote: true },
    ],
    [
      requests[1],
      {
        kind: 'VoteResponse',
        errorCode: ErrorCode.FENCED_LEADER_EPOCH,
        leaderId: 1,
        leaderEpoch: 9,
        voteGranted: false,
        preVote: false,
      },
    ],
    [requests[2], { kind: 'BeginQuorumEpochResponse', errorCode: 0, leaderId: 2, leaderEpoch: 7 }],
    [
      requests[3],
      { kind: 'EndQuorumEpochResponse', errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, leaderId: 1, leaderEpoch: 8 },
    ],
    [
      requests[4],
      {
        kind: 'FetchResponse',
        errorCode: 0,
        leaderId: 2,
        leaderEpoch: 7,
        highWatermark: 11,
        logStartOffset: 0,
        divergingEpoch: null,
        snapshotId: null,
        records: chunk,
      },
    ],
    [
      requests[4],
      {
        kind: 'FetchResponse',
        errorCode: 0,
        leaderId: 2,
        leaderEpoch: 7,
        highWatermark: 11,
        logStartOffset: 0,
        divergingEpoch: { offset: 100, epoch: 5 },
        snapshotId: null,
        records: null,
      },
    ],
    [
      requests[4],
      {
        kind: 'FetchResponse',
        errorCode: 0,
        leaderId: 2,
        leaderEpoch: 7,
        highWatermark: 300,
        logStartOffset: 200,
        divergingEpoch: null,
        snapshotId: { offset: 200, epoch: 0 },
        records: null,
      },
    ],
    [
      requests[5],
      {
        kind: 'FetchSnapshotResponse',
        errorCode: 0,
        leaderId: 2,
        leaderEpoch: 7,
        snapshotId: { offset: 100, epoch: 5 },
        size: 9000,
        position: 4096,
        bytes: Buffer.from('some snapshot bytes'),
      },
    ],
  ];
  for (const [req, res] of cases) {
    for (const v of versions[req.kind]) {
      const body = decode(req.kind, 'response', v, bytes(req.kind, 'response', v, responseToWire(res)));
      const back = responseFromWire(req, body);
      if (back.kind === 'FetchSnapshotResponse') back.bytes = Buffer.from(back.bytes);
      assert.deepEqual(back, res, `${req.kind} v${v}`);
    }
  }
});

test('a top-level error (INCONSISTENT_CLUSTER_ID) travels without partition data, and comes back with the leader unknown', () => {
  for (const req of requests) {
    for (const v of versions[req.kind]) {
      const body = decode(
        req.kind,
        'response',
        v,
        bytes(req.kind, 'response', v, errorToWire(req.kind, ErrorCode.INCONSISTENT_CLUSTER_ID)),
      );
      const back = responseFromWire(req, body);
      assert.equal(back.errorCode, ErrorCode.INCONSISTENT_CLUSTER_ID);
      assert.equal(back.leaderId, -1);
    }
  }
  // ...and a core's INCONSISTENT_CLUSTER_ID answer is put at the top level, as Kafka does
  const body = responseToWire({
    kind: 'BeginQuorumEpochResponse',
    errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID,
    leaderId: 1,
    leaderEpoch: 2,
  });
  assert.equal(body.errorCode, ErrorCode.INCONSISTENT_CLUSTER_ID);
});

test('what is not a Raft message for this quorum is a WireError', () => {
  const vote = requestToWire(requests[0] as RaftRequest & { kind: 'Vote' }, 1);
  const wrongTopic = { ...vote, topics: [{ ...vote.topics[0], topicName: 'other' }] };
  const body = (b: unknown) => decode('Vote', 'request', 2, bytes('Vote', 'request', 2, b));
  assert.throws(() => requestFromWire('Vote', body(wrongTopic)), WireError);
  const wrongPartition = {
    ...vote,
    topics: [{ ...vote.topics[0], partitions: [{ ...vote.topics[0].partitions[0], partitionIndex: 1 }] }],
  };
  assert.throws(() => requestFromWire('Vote', body(wrongPartition)), WireError);
  assert.throws(() => requestFromWire('Vote', body({ ...vote, topics: [] })), WireError);
  const huge = {
    ...vote,
    topics: [{ ...vote.topics[0], partitions: [{ ...vote.topics[0].partitions[0], lastOffset: 2n ** 60n }] }],
  };
  assert.throws(() => requestFromWire('Vote', body(huge)), /out of range/);

  const fetch = requestToWire(requests[4] as RaftRequest & { kind: 'Fetch' }, 1);
  const f = (b: unknown) => decode('Fetch', 'request', 17, bytes('Fetch', 'request', 17, b));
  assert.throws(
    () =>
      requestFromWire('Fetch', f({ ...fetch, topics: [{ ...fetch.topics[0], topicId: 'AAAAAAAAAAAAAAAAAAAAAg' }] })),
    WireError,
  );
  assert.throws(
    () => requestFromWire('Fetch', f({ ...fetch, replicaState: { replicaId: -1, replicaEpoch: -1 } })),
    /replica id/,
  );

  // records in a Fetch response that are not whole valid batches, or out of order
  const res = (records: Buffer) =>
    decode(
      'Fetch',
      'response',
      17,
      bytes(
        'Fetch',
        'response',
        17,
        responseToWire({
          kind: 'FetchResponse',
          errorCode: 0,
          leaderId: 1,
          leaderEpoch: 1,
          highWatermark: 0,
          logStartOffset: 0,
          divergingEpoch: null,
          snapshotId: null,
          records,
        }),
      ),
    );
  const good = batches({ base: 0, n: 2, epoch: 1 }, { base: 2, n: 1, epoch: 1 });
  assert.ok(responseFromWire(requests[4], res(good)));
  const flipped = Buffer.from(good);
  flipped[70] ^= 1;
  assert.throws(() => responseFromWire(requests[4], res(flipped)), /CRC/);
  assert.throws(() => responseFromWire(requests[4], res(good.subarray(0, good.length - 1))), WireError);
  assert.throws(
    () => responseFromWire(requests[4], res(batches({ base: 0, n: 1, epoch: 2 }, { base: 1, n: 1, epoch: 1 }))),
    /below/,
  );
  assert.throws(
    () => responseFromWire(requests[4], res(batches({ base: 0, n: 1, epoch: 1 }, { base: 5, n: 1, epoch: 1 }))),
    /does not follow/,
  );
});
