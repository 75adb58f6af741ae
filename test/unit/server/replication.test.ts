/**
 * Replication between two ReplicaManagers in one process: the leader's
 * Fetch handler serves the follower's ReplicaFetcher over an in-process
 * channel that encodes and decodes every request and response at a real
 * Fetch version (as the wire would). Shown: follower fetches read past the
 * high watermark, their fetch offsets move the leader's high watermark and
 * complete acks=all, the follower's log is byte-identical to the leader's,
 * a divergent tail is truncated (diverging epoch), and the follower-fetch
 * errors Kafka answers (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH with
 * the current leader).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadBrokerConfig } from '../../../src/config/broker-config.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import type { MetadataRecord } from '../../../src/metadata/records.ts';
import { ReplicaManager } from '../../../src/server/replica-manager.ts';
import { ReplicaFetcherManager, fetcherIndex, type FetcherChannel } from '../../../src/server/replica-fetcher.ts';
import { fetchHandler } from '../../../src/server/handlers/fetch.ts';
import { listOffsetsHandler } from '../../../src/server/handlers/list-offsets.ts';
import { FetchSessionCache } from '../../../src/server/fetch-sessions.ts';
import type { Broker } from '../../../src/server/broker.ts';
import { apiByName } from '../../../src/protocol/apis.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import type { ApiMessages } from '../../../src/protocol/generated/messages.ts';
import type { FileRegion } from '../../../src/storage/file-region.ts';
import { AFTER_WRITE, type RequestContext } from '../../../src/server/dispatcher.ts';
import { config, makeBatch, silent as quiet, tempDir } from '../storage/fixtures.ts';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { CorruptRecordError } from '../../../src/storage/errors.ts';
import {
  computeBatchCrc,
  OFF_CRC,
  setBaseOffset,
  setPartitionLeaderEpoch,
  TRANSACTIONAL_FLAG,
} from '../../../src/protocol/records/batch-header.ts';

const silent = pino({ level: 'silent' });
const TID = Buffer.alloc(16, 7).toString('base64url');

/** acks=all of `p`'s records below `end`, or a failure after a deadline. */
function acked(p: { waitForAcks(end: number): Promise<number> }, end: number, ms = 20_000): Promise<number> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.waitForAcks(end),
    new Promise<number>((_, reject) => {
      t = setTimeout(() => reject(new Error(`acks=all below ${end} not completed in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** A fetch served in process by `leader`'s Fetch handler, encoded and decoded at `version`. */
function inProcessChannel(leader: Broker, version: number, sent: ApiMessages['Fetch']['request'][] = []) {
  const handlers = { Fetch: fetchHandler(leader), ListOffsets: listOffsetsHandler(leader) };
  let closed = false;
  const channel: FetcherChannel = {
    async send(name, body) {
      if (closed) throw new Error('closed');
      const api = apiByName(name);
      // Fetch at the version under test; ListOffsets at its highest
      const v = name === 'Fetch' ? version : api.maxVersion;
      const w = new Writer(256);
      api.requestEncoder(v)(w, body);
      const req = api.requestDecoder(v)(new Reader(Buffer.concat(w.chunks() as Buffer[])));
      if (name === 'Fetch') sent.push(req as ApiMessages['Fetch']['request']);
      const ctx = {
        apiKey: api.key,
        apiVersion: v,
        correlationId: 1,
        clientId: 'test',
        conn: undefined,
      } as unknown as RequestContext;
      const res = await (handlers[name] as (r: unknown, c: RequestContext) => unknown)(req, ctx);
      const rw = new Writer(256);
      api.responseEncoder(v)(rw, res);
      // file regions (sendfile) are read here, as the transport would send them
      const bytes = Buffer.concat(
        rw.chunks().map((c) => (Buffer.isBuffer(c) ? c : (c as unknown as FileRegion).read(0, c.length))),
      );
      (res as { [AFTER_WRITE]?: () => void })[AFTER_WRITE]?.();
      if (closed) throw new Error('closed');
      return api.responseDecoder(v)(new Reader(bytes)) as never;
    },
    close() {
      closed = true;
    },
  };
  return channel;
}

interface Node {
  id: number;
  dir: string;
  image: MetadataImage;
  rm: ReplicaManager;
  broker: Broker;
}

async function startNode(id: number, records: MetadataRecord[]): Promise<Node> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `samsa-repl-${id}-`));
  const config = loadBrokerConfig({
    overrides: { 'node.id': String(id), 'log.dirs': dir, listeners: 'PLAINTEXT://127.0.0.1:0' },
  });
  const image = new MetadataImage();
  for (const r of records) image.apply(r);
  const rm = await ReplicaManager.open(image, config, silent);
  const broker = {
    config,
    image,
    replicas: rm,
    fetchSessions: new FetchSessionCache(),
    nodeId: id,
  } as unknown as Broker;
  return { id, dir, image, rm, broker };
}

async function commit(nodes: Node[], batch: MetadataRecord[]): Promise<void> {
  for (const n of nodes) {
    for (const r of batch) n.image.apply(r);
    await n.rm.onMetadata(batch);
  }
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The bytes of a log's segment files, in order. */
function logBytes(n: Node, topic = 't', partition = 0): Buffer {
  const dir = n.rm.get(topic, partition)!.log.dir;
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  return Buffer.concat(files.map((f) => fs.readFileSync(path.join(dir, f))));
}

const TOPIC: MetadataRecord[] = [
  { type: 'Topic', name: 't', topicId: TID },
  {
    type: 'Partition',
    topicId: TID,
    partition: 0,
    replicas: [1, 2],
    isr: [1, 2],
    leader: 1,
    leaderEpoch: 0,
    partitionEpoch: 0,
  },
];

async function withPair(
  version: number,
  fn: (a: Node, b: Node, fetchers: ReplicaFetcherManager, sent: ApiMessages['Fetch']['request'][]) => Promise<void>,
): Promise<void> {
  const a = await startNode(1, TOPIC);
  const b = await startNode(2, TOPIC);
  const sent: ApiMessages['Fetch']['request'][] = [];
  const brokers = new Map([
    [1, a],
    [2, b],
  ]);
  const fetchers = new ReplicaFetcherManager({
    localId: 2,
    endpointOf: (id) => (brokers.has(id) ? { host: 'in-process', port: id } : undefined),
    connect: async ({ nodeId }) => inProcessChannel(brokers.get(nodeId)!.broker, version, sent),
    settings: { fetchWaitMaxMs: 200, fetchBackoffMs: 20 },
    logger: process.env.REPL_DEBUG ? pino() : silent,
  });
  // the fetcher's timers do not hold the process open (a broker's sockets do): this test's does
  const keepAlive = setInterval(() => {}, 1000);
  fetchers.follow(b.rm);
  try {
    await fn(a, b, fetchers, sent);
  } finally {
    clearInterval(keepAlive);
    await fetchers.close();
    await a.rm.close();
    await b.rm.close();
    fs.rmSync(a.dir, { recursive: true, force: true });
    fs.rmSync(b.dir, { recursive: true, force: true });
  }
}

for (const version of [11, 14, 17]) {
  test(`Fetch v${version}: acks=all completes once the follower fetched past the records; logs byte-identical`, async () => {
    await withPair(version, async (a, b, _fetchers, sent) => {
      const leader = a.rm.get('t', 0)!;
      const follower = b.rm.get('t', 0)!;
      assert.equal(leader.role, 'leader');
      assert.equal(follower.role, 'follower');

      assert.equal(leader.checkAppend(-1), ErrorCode.NONE);
      const info = leader.appendAsLeader(makeBatch(3));
      assert.equal(leader.highWatermark, 0, 'the follower has not fetched the records: the high watermark stays');
      const code = await acked(leader, info.lastOffset + 1);
      assert.equal(code, ErrorCode.NONE);
      assert.ok(follower.log.logEndOffset >= 3, 'acknowledged: the follower has the records');
      assert.ok(follower.log.recoveryPoint >= 3, 'and has fsynced them');
      assert.equal(leader.highWatermark, 3);
      await until('the follower learns the high watermark', () => follower.highWatermark === 3);

      const info2 = leader.appendAsLeader(makeBatch(5));
      assert.equal(await acked(leader, info2.lastOffset + 1), ErrorCode.NONE);
      await until('the follower learns the high watermark', () => follower.highWatermark === 8);
      assert.deepEqual(logBytes(b), logBytes(a), 'the follower holds the leader bytes');
      assert.deepEqual([...follower.log.epochStartOffsets], [...leader.log.epochStartOffsets]);

      const r = sent[sent.length - 1];
      const replicaId = version >= 15 ? r.replicaState.replicaId : r.replicaId;
      assert.equal(replicaId, 2, 'the fetch names the follower');
    });
  });
}

test('a follower fetch reads past the high watermark; a consumer fetch does not', async () => {
  await withPair(17, async (a, _b, fetchers) => {
    await fetchers.close(); // this test drives the fetches itself
    const leader = a.rm.get('t', 0)!;
    leader.appendAsLeader(makeBatch(4));
    assert.equal(leader.highWatermark, 0);
    const ch = inProcessChannel(a.broker, 17);
    const body = (replicaId: number, fetchOffset: number, extra: object = {}) => ({
      replicaState: { replicaId, replicaEpoch: -1 },
      maxWaitMs: 0,
      minBytes: 0,
      topics: [
        {
          topicId: TID,
          partitions: [
            {
              partition: 0,
              fetchOffset,
              currentLeaderEpoch: 0,
              lastFetchedEpoch: -1,
              partitionMaxBytes: 1 << 20,
              ...extra,
            },
          ],
        },
      ],
    });
    const consumer = (await ch.send('Fetch', body(-1, 0))).responses[0].partitions[0];
    assert.equal(consumer.errorCode, ErrorCode.NONE);
    assert.equal(consumer.records?.length ?? 0, 0, 'nothing below the high watermark yet');

    const f = (await ch.send('Fetch', body(2, 0))).responses[0].partitions[0];
    assert.equal(f.errorCode, ErrorCode.NONE);
    assert.ok((f.records?.length ?? 0) > 0, 'the follower gets the records above the high watermark');
    assert.equal(Number(f.highWatermark), 0, 'fetch offset 0: the follower has nothing yet');

    const f2 = (await ch.send('Fetch', body(2, 4, { lastFetchedEpoch: 0 }))).responses[0].partitions[0];
    assert.equal(Number(f2.highWatermark), 4, 'fetch offset 4 moved the high watermark');
    assert.equal(leader.highWatermark, 4);

    // a replica id outside the replica set
    const stranger = (await ch.send('Fetch', body(7, 0))).responses[0].partitions[0];
    assert.equal(stranger.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);

    // a last fetched epoch this leader never had: diverging, no records
    const div = (await ch.send('Fetch', body(2, 6, { lastFetchedEpoch: 0 }))).responses[0].partitions[0];
    assert.equal(div.errorCode, ErrorCode.NONE);
    assert.deepEqual([div.divergingEpoch.epoch, Number(div.divergingEpoch.endOffset)], [0, 4]);
    assert.equal(div.records?.length ?? 0, 0);
  });
});

test('the leader changes: an old leader epoch is fenced and told the current leader', async () => {
  await withPair(17, async (a, b, fetchers) => {
    await fetchers.close();
    await commit([a, b], [{ type: 'PartitionChange', topicId: TID, partition: 0, leader: 2 }]);
    const ch = inProcessChannel(b.broker, 17);
    const res = await ch.send('Fetch', {
      replicaState: { replicaId: 1, replicaEpoch: -1 },
      maxWaitMs: 0,
      minBytes: 0,
      topics: [
        {
          topicId: TID,
          partitions: [{ partition: 0, fetchOffset: 0, currentLeaderEpoch: 0, partitionMaxBytes: 1000 }],
        },
      ],
    });
    const pd = res.responses[0].partitions[0];
    assert.equal(pd.errorCode, ErrorCode.FENCED_LEADER_EPOCH);
    assert.deepEqual([pd.currentLeader.leaderId, pd.currentLeader.leaderEpoch], [2, 1]);
    const old = await inProcessChannel(a.broker, 17).send('Fetch', {
      replicaState: { replicaId: 2, replicaEpoch: -1 },
      maxWaitMs: 0,
      minBytes: 0,
      topics: [
        {
          topicId: TID,
          partitions: [{ partition: 0, fetchOffset: 0, currentLeaderEpoch: 1, partitionMaxBytes: 1000 }],
        },
      ],
    });
    assert.equal(old.responses[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.deepEqual(
      [old.responses[0].partitions[0].currentLeader.leaderId, old.responses[0].partitions[0].currentLeader.leaderEpoch],
      [2, 1],
    );
  });
});

test('a returning follower truncates its divergent tail (diverging epoch) and then matches the leader', async () => {
  await withPair(17, async (a, b) => {
    const p1 = a.rm.get('t', 0)!;
    const p2 = b.rm.get('t', 0)!;
    const i = p1.appendAsLeader(makeBatch(2));
    assert.equal(await acked(p1, i.lastOffset + 1), ErrorCode.NONE);
    await until('follower at 2', () => p2.highWatermark === 2);

    // node 2 leads epoch 1 and writes records node 1 never gets (node 1 has no fetcher)
    await commit([a, b], [{ type: 'PartitionChange', topicId: TID, partition: 0, leader: 2, isr: [2] }]);
    assert.equal(p2.role, 'leader');
    p2.appendAsLeader(makeBatch(3));
    p2.appendAsLeader(makeBatch(1));
    assert.equal(p2.log.logEndOffset, 6);

    // node 1 leads again (epoch 2) and writes other records: node 2's tail from offset 2 diverges
    await commit([a, b], [{ type: 'PartitionChange', topicId: TID, partition: 0, leader: 1, isr: [1, 2] }]);
    assert.equal(p1.leaderEpoch, 2);
    const j = p1.appendAsLeader(makeBatch(2, {}, 30));
    assert.equal(await acked(p1, j.lastOffset + 1), ErrorCode.NONE);
    await until('the follower catches up', () => p2.highWatermark === 4 && p2.log.logEndOffset === 4);
    assert.deepEqual(logBytes(b), logBytes(a), 'the divergent tail is gone: byte-identical');
    assert.deepEqual(
      [...p2.log.epochStartOffsets],
      [
        [0, 0],
        [2, 2],
      ],
    );
  });
});

test('the fetcher stops fetching a partition this node now leads, and moves to the new leader', async () => {
  await withPair(17, async (a, b, fetchers) => {
    const p2 = b.rm.get('t', 0)!;
    assert.equal(fetchers.fetchedFrom(p2), 1);
    await commit([a, b], [{ type: 'PartitionChange', topicId: TID, partition: 0, leader: 2 }]);
    assert.equal(fetchers.fetchedFrom(p2), -1, 'leader now: not fetched');
    await commit([a, b], [{ type: 'PartitionChange', topicId: TID, partition: 0, leader: 1 }]);
    assert.equal(fetchers.fetchedFrom(p2), 1);
    const p1 = a.rm.get('t', 0)!;
    const i = p1.appendAsLeader(makeBatch(2));
    assert.equal(await acked(p1, i.lastOffset + 1), ErrorCode.NONE);
  });
});

test('num.replica.fetchers: partitions spread over that many fetch loops per leader, each its own connection', async () => {
  const parts = 8;
  const records: MetadataRecord[] = [{ type: 'Topic', name: 't', topicId: TID }];
  for (let i = 0; i < parts; i++)
    records.push({
      type: 'Partition',
      topicId: TID,
      partition: i,
      replicas: [1, 2],
      isr: [1, 2],
      leader: 1,
      leaderEpoch: 0,
      partitionEpoch: 0,
    });
  const a = await startNode(1, records);
  const b = await startNode(2, records);
  let connections = 0;
  const fetchers = new ReplicaFetcherManager({
    localId: 2,
    endpointOf: (id) => (id === 1 ? { host: 'in-process', port: id } : undefined),
    connect: async () => {
      connections++;
      return inProcessChannel(a.broker, 17, []);
    },
    settings: { fetchWaitMaxMs: 200, fetchBackoffMs: 20, numFetchers: 3 },
    logger: silent,
  });
  const keepAlive = setInterval(() => {}, 1000);
  fetchers.follow(b.rm);
  try {
    const used = new Set<number>();
    for (let i = 0; i < parts; i++) used.add(fetcherIndex('t', i, 3));
    assert.ok(used.size > 1, 'the hash spreads these partitions');
    assert.equal(fetchers.fetcherCount, used.size);
    for (let i = 0; i < parts; i++) {
      const leader = a.rm.get('t', i)!;
      const info = leader.appendAsLeader(makeBatch(2));
      assert.equal(await acked(leader, info.lastOffset + 1), ErrorCode.NONE);
      assert.equal(b.rm.get('t', i)!.log.logEndOffset, 2);
    }
    assert.equal(connections, used.size, 'one connection per fetch loop');
  } finally {
    clearInterval(keepAlive);
    await fetchers.close();
    await a.rm.close();
    await b.rm.close();
    fs.rmSync(a.dir, { recursive: true, force: true });
    fs.rmSync(b.dir, { recursive: true, force: true });
  }
});

test("PartitionLog.appendAsFollower keeps the leader's offsets and epochs and refuses what does not follow", async () => {
  /** A batch as a leader wrote it: base offset and leader epoch set, CRC over the result. */
  const leaderBatch = (n: number, base: number, epoch: number) => {
    const b = makeBatch(n);
    setBaseOffset(b, 0, base);
    setPartitionLeaderEpoch(b, 0, epoch);
    b.writeUInt32BE(computeBatchCrc(b, 0, b.length), OFF_CRC);
    return b;
  };
  const { dir, cleanup } = tempDir('samsa-follower-append-');
  const log = await PartitionLog.open(path.join(dir, 't-0'), config(), { logger: quiet });
  try {
    const info = log.appendAsFollower(Buffer.concat([leaderBatch(2, 0, 3), leaderBatch(3, 2, 5)]));
    assert.deepEqual([info.firstOffset, info.lastOffset], [0, 4]);
    assert.equal(log.logEndOffset, 5);
    assert.deepEqual(
      [...log.epochStartOffsets],
      [
        [3, 0],
        [5, 2],
      ],
    );
    assert.throws(() => log.appendAsFollower(leaderBatch(1, 4, 5)), CorruptRecordError, 'below the log end');
    assert.throws(() => log.appendAsFollower(leaderBatch(1, 5, 4)), CorruptRecordError, 'an older epoch');
    const bad = leaderBatch(1, 5, 5);
    bad[bad.length - 1] ^= 0xff;
    assert.throws(() => log.appendAsFollower(bad), CorruptRecordError, 'a CRC mismatch');
    assert.throws(() => log.appendAsFollower(leaderBatch(1, 5, 5).subarray(0, 70)), CorruptRecordError, 'a cut batch');
    assert.equal(log.logEndOffset, 5, 'nothing appended by a refused append');
    // a gap (the leader's log was compacted) is kept as is
    log.appendAsFollower(leaderBatch(1, 9, 6));
    assert.equal(log.logEndOffset, 10);
  } finally {
    await log.close();
    cleanup();
  }
});

test("a follower behind the leader's log start starts its log there (OFFSET_OUT_OF_RANGE, ListOffsets), at the base of a straddling batch", async () => {
  await withPair(17, async (a, b, fetchers) => {
    await fetchers.close();
    await commit([a, b], [{ type: 'PartitionChange', topicId: TID, partition: 0, isr: [1] }]);
    const p1 = a.rm.get('t', 0)!;
    const p2 = b.rm.get('t', 0)!;
    p1.appendAsLeader(makeBatch(5));
    p1.appendAsLeader(makeBatch(3));
    assert.equal(p1.highWatermark, 8, 'alone in the ISR');
    await p1.log.deleteRecordsBefore(6); // inside the batch 5..7
    assert.equal(p1.log.logStartOffset, 6);
    const again = new ReplicaFetcherManager({
      localId: 2,
      endpointOf: () => ({ host: 'in-process', port: 1 }),
      connect: async () => inProcessChannel(a.broker, 17),
      settings: { fetchWaitMaxMs: 100, fetchBackoffMs: 20 },
      logger: silent,
    });
    again.follow(b.rm);
    try {
      await until('the follower reported the leader end', () => p1.followerEndOffset(2) === 8);
      assert.equal(p2.log.logEndOffset, 8);
      assert.equal(p2.log.logStartOffset, 5, 'the log starts at the straddling batch');
      assert.equal(p2.highWatermark, 8);
    } finally {
      await again.close();
    }
  });
});

test('transaction markers replicate: a marker is acknowledged once the follower has it; LSO and aborted transactions match', async () => {
  await withPair(17, async (a, b) => {
    const leader = a.rm.get('t', 0)!;
    const follower = b.rm.get('t', 0)!;
    const txn = (pid: number, n: number) =>
      makeBatch(n, { producerId: pid, producerEpoch: 0, baseSequence: 0, attributes: TRANSACTIONAL_FLAG });
    leader.appendAsLeader(txn(5, 2)); // 0-1
    const info = leader.appendAsLeader(txn(6, 1)); // 2
    assert.equal(await acked(leader, info.lastOffset + 1), ErrorCode.NONE);
    assert.equal(leader.lastStableOffset, 0);
    assert.equal(await leader.writeTxnMarker(5, 0, false, 0), ErrorCode.NONE); // 3
    assert.ok(follower.log.logEndOffset >= 4, 'acknowledged: the follower has the marker');
    assert.equal(leader.lastStableOffset, 2, 'pid 6 is still open');
    assert.equal(await leader.writeTxnMarker(5, 0, true, 0), ErrorCode.NONE); // 4: nothing open for pid 5
    assert.equal(await leader.writeTxnMarker(6, 0, true, 0), ErrorCode.NONE); // 5
    assert.equal(leader.lastStableOffset, 6);
    await until('the follower learns the high watermark', () => follower.highWatermark === 6);
    assert.equal(follower.lastStableOffset, 6);
    assert.deepEqual(follower.log.abortedTransactions(0, 6), leader.log.abortedTransactions(0, 6));
    assert.deepEqual(leader.log.abortedTransactions(0, 6), [
      { producerId: 5, firstOffset: 0, lastOffset: 3, lastStableOffset: 2 },
    ]);
    assert.deepEqual(logBytes(b), logBytes(a));
    // as follower, no marker is written
    assert.equal(await follower.writeTxnMarker(6, 0, true, 0), ErrorCode.NOT_LEADER_OR_FOLLOWER);
    // an older producer epoch is refused, nothing appended
    assert.equal(await leader.writeTxnMarker(6, 1, false, 0), ErrorCode.NONE);
    const end = leader.log.logEndOffset;
    assert.equal(await leader.writeTxnMarker(6, 0, false, 0), ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(leader.log.logEndOffset, end);
  });
});
