/**
 * ISR changes through the controller (AlterPartition, key 56): the
 * controller's checks (Kafka's: broker epoch, leader epoch, leader,
 * partition epoch, eligible members), and a leader and a follower in one
 * process whose ISR shrinks when the follower stops fetching for
 * replica.lag.time.max.ms (acks=all then completes with the smaller ISR, or
 * is refused below min.insync.replicas) and expands again once it caught up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadBrokerConfig } from '../../../src/config/broker-config.ts';
import { Controller } from '../../../src/metadata/controller.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { MemoryQuorum } from '../../helpers/memory-quorum.ts';
import type { MetadataRecord } from '../../../src/metadata/records.ts';
import { ReplicaManager } from '../../../src/server/replica-manager.ts';
import { ReplicaFetcherManager, type FetcherChannel } from '../../../src/server/replica-fetcher.ts';
import { IsrChanges, type AlterPartitionChannel } from '../../../src/server/isr-changes.ts';
import { alterPartitionHandler } from '../../../src/server/handlers/alter-partition.ts';
import { fetchHandler } from '../../../src/server/handlers/fetch.ts';
import { FetchSessionCache } from '../../../src/server/fetch-sessions.ts';
import type { Broker } from '../../../src/server/broker.ts';
import type { RequestContext } from '../../../src/server/dispatcher.ts';
import { apiByName } from '../../../src/protocol/apis.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import type { ApiMessages, ApiName } from '../../../src/protocol/generated/messages.ts';
import type { FileRegion } from '../../../src/storage/file-region.ts';
import { makeBatch } from '../storage/fixtures.ts';

const silent = pino({ level: 'silent' });
const TID = Buffer.alloc(16, 9).toString('base64url');

const register = (nodeId: number, brokerEpoch: number, fenced = false): MetadataRecord => ({
  type: 'RegisterBroker',
  nodeId,
  incarnationId: Buffer.alloc(16, nodeId).toString('base64url'),
  listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + nodeId }],
  rack: null,
  brokerEpoch,
  fenced,
});

function records(replicas: number[]): MetadataRecord[] {
  return [
    register(1, 10),
    register(2, 20),
    register(3, 30),
    { type: 'Topic', name: 't', topicId: TID },
    {
      type: 'Partition',
      topicId: TID,
      partition: 0,
      replicas,
      isr: replicas,
      leader: 1,
      leaderEpoch: 0,
      partitionEpoch: 0,
    },
  ];
}

function controllerOn(image: MetadataImage): Controller {
  image.clusterId = 'c';
  return new Controller(new MemoryQuorum(0), image, {
    nodeId: 0,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
  });
}

/** A request served in process by `handler`, encoded and decoded at `version` both ways. */
async function roundTrip<K extends ApiName>(
  name: K,
  version: number,
  handler: (req: ApiMessages[K]['request'], ctx: RequestContext) => unknown,
  body: ApiMessages[K]['requestInput'],
): Promise<ApiMessages[K]['response']> {
  const api = apiByName(name);
  const w = new Writer(256);
  api.requestEncoder(version)(w, body);
  const req = api.requestDecoder(version)(new Reader(Buffer.concat(w.chunks() as Buffer[])));
  const ctx = { apiKey: api.key, apiVersion: version, correlationId: 1, clientId: 't', conn: undefined };
  const res = await handler(req as ApiMessages[K]['request'], ctx as unknown as RequestContext);
  const rw = new Writer(256);
  api.responseEncoder(version)(rw, res);
  const bytes = Buffer.concat(
    rw.chunks().map((c) => (Buffer.isBuffer(c) ? c : (c as unknown as FileRegion).read(0, c.length))),
  );
  return api.responseDecoder(version)(new Reader(bytes)) as ApiMessages[K]['response'];
}

test('the controller checks an AlterPartition as Kafka does, and commits an accepted ISR', async () => {
  const image = new MetadataImage();
  for (const r of [...records([1, 2, 3]), register(4, 40, true)]) image.apply(r);
  const controller = controllerOn(image);
  const item = (over: object = {}) => ({
    topicId: TID,
    partitionIndex: 0,
    leaderEpoch: 0,
    partitionEpoch: 0,
    newIsr: [
      { brokerId: 1, brokerEpoch: 10 },
      { brokerId: 3, brokerEpoch: 30 },
    ],
    ...over,
  });
  const ask = async (over: object = {}, brokerId = 1, brokerEpoch = 10) => {
    const r = await controller.alterPartition({ brokerId, brokerEpoch, partitions: [item(over)] });
    return r.errorCode !== ErrorCode.NONE ? r.errorCode : r.partitions[0].errorCode;
  };
  assert.equal(await ask({}, 1, 11), ErrorCode.STALE_BROKER_EPOCH);
  assert.equal(await ask({ leaderEpoch: 1 }), ErrorCode.FENCED_LEADER_EPOCH);
  assert.equal(await ask({}, 2, 20), ErrorCode.INVALID_REQUEST, 'only the leader alters the ISR');
  assert.equal(await ask({ partitionEpoch: 5 }), ErrorCode.INVALID_UPDATE_VERSION);
  assert.equal(
    await ask({ newIsr: [{ brokerId: 3, brokerEpoch: 30 }] }),
    ErrorCode.INVALID_REQUEST,
    'the leader stays',
  );
  assert.equal(
    await ask({
      newIsr: [
        { brokerId: 1, brokerEpoch: 10 },
        { brokerId: 4, brokerEpoch: 40 },
      ],
    }),
    ErrorCode.INELIGIBLE_REPLICA,
    'not a replica (and fenced)',
  );
  assert.equal(
    await ask({
      newIsr: [
        { brokerId: 1, brokerEpoch: 10 },
        { brokerId: 2, brokerEpoch: 21 },
      ],
    }),
    ErrorCode.INELIGIBLE_REPLICA,
    'another registration of broker 2',
  );
  assert.deepEqual(image.topicsById.get(TID)!.partitions[0].isr, [1, 2, 3], 'nothing refused was committed');

  // accepted, through the handler at v3 (broker epochs) and v2 (ids only)
  const h = alterPartitionHandler(controller);
  const v3 = await roundTrip('AlterPartition', 3, h, {
    brokerId: 1,
    brokerEpoch: 10,
    topics: [
      {
        topicId: TID,
        partitions: [
          {
            partitionIndex: 0,
            leaderEpoch: 0,
            partitionEpoch: 0,
            newIsrWithEpochs: [
              { brokerId: 1, brokerEpoch: 10 },
              { brokerId: 3, brokerEpoch: 30 },
            ],
          },
        ],
      },
    ],
  });
  const pd = v3.topics[0].partitions[0];
  assert.equal(pd.errorCode, ErrorCode.NONE);
  assert.deepEqual([pd.leaderId, pd.leaderEpoch, pd.isr, pd.partitionEpoch], [1, 0, [1, 3], 1]);
  assert.deepEqual(image.topicsById.get(TID)!.partitions[0].isr, [1, 3]);

  const v2 = await roundTrip('AlterPartition', 2, h, {
    brokerId: 1,
    brokerEpoch: 10,
    topics: [{ topicId: TID, partitions: [{ partitionIndex: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [1] }] }],
  });
  assert.equal(v2.topics[0].partitions[0].errorCode, ErrorCode.INVALID_UPDATE_VERSION, 'the epoch moved on');
  const v2b = await roundTrip('AlterPartition', 2, h, {
    brokerId: 1,
    brokerEpoch: 10,
    topics: [
      { topicId: TID, partitions: [{ partitionIndex: 0, leaderEpoch: 0, partitionEpoch: 1, newIsr: [1, 2, 3] }] },
    ],
  });
  assert.equal(v2b.topics[0].partitions[0].errorCode, ErrorCode.NONE);
  assert.deepEqual(image.topicsById.get(TID)!.partitions[0].isr, [1, 2, 3]);
});

interface Node {
  id: number;
  dir: string;
  image: MetadataImage;
  rm: ReplicaManager;
  broker: Broker;
}

async function startNode(id: number, recs: MetadataRecord[], clock: { now(): number }): Promise<Node> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `samsa-isr-${id}-`));
  const config = loadBrokerConfig({
    overrides: { 'node.id': String(id), 'log.dirs': dir, listeners: 'PLAINTEXT://127.0.0.1:0' },
  });
  const image = new MetadataImage();
  for (const r of recs) image.apply(r);
  const rm = await ReplicaManager.open(image, config, silent, [], clock);
  const broker = {
    config,
    image,
    replicas: rm,
    fetchSessions: new FetchSessionCache(),
    nodeId: id,
  } as unknown as Broker;
  return { id, dir, image, rm, broker };
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function withDeadline<T>(p: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

test('the leader shrinks the ISR by a follower that stopped fetching, and expands it once it caught up', async () => {
  let now = 1_000_000;
  const clock = { now: () => now };
  const recs = records([1, 2]);
  const a = await startNode(1, recs, clock);
  const b = await startNode(2, recs, clock);
  const controllerImage = new MetadataImage();
  for (const r of recs) controllerImage.apply(r);
  const controller = controllerOn(controllerImage);
  // committed batches reach both brokers, as the metadata log would carry them
  controller.onCommit(async (batch) => {
    for (const n of [a, b]) {
      for (const r of batch) n.image.apply(r);
      await n.rm.onMetadata(batch);
    }
  });
  const handler = alterPartitionHandler(controller);
  let asked = 0;
  const isr = new IsrChanges({
    localId: 1,
    brokerEpoch: () => 10,
    controllerId: () => 0,
    controllerEndpoint: () => ({ host: 'in-process', port: 0 }),
    connect: async () =>
      ({
        send: (_api: 'AlterPartition', body: ApiMessages['AlterPartition']['requestInput']) => {
          asked++;
          return roundTrip('AlterPartition', 3, handler, body);
        },
        close() {},
      }) as AlterPartitionChannel,
    image: a.image,
    replicaLagTimeMaxMs: 30_000,
    logger: silent,
  });
  isr.start(a.rm);
  const fetch = fetchHandler(a.broker);
  const startFetcher = () => {
    const f = new ReplicaFetcherManager({
      localId: 2,
      endpointOf: () => ({ host: 'in-process', port: 1 }),
      connect: async () =>
        ({
          send: (_api: 'Fetch', body: ApiMessages['Fetch']['requestInput']) => roundTrip('Fetch', 17, fetch, body),
          close() {},
        }) as FetcherChannel,
      settings: { fetchWaitMaxMs: 100, fetchBackoffMs: 20 },
      logger: silent,
    });
    f.follow(b.rm);
    return f;
  };
  const keepAlive = setInterval(() => {}, 1000);
  let fetcher = startFetcher();
  try {
    const leader = a.rm.get('t', 0)!;
    const follower = b.rm.get('t', 0)!;
    const i = leader.appendAsLeader(makeBatch(2));
    assert.equal(await withDeadline(leader.waitForAcks(i.lastOffset + 1), 'ack 1'), ErrorCode.NONE);

    // the follower stops fetching; the leader's records wait for it
    await fetcher.close();
    const j = leader.appendAsLeader(makeBatch(3));
    const ack = leader.waitForAcks(j.lastOffset + 1);
    isr.checkShrinks();
    assert.deepEqual(leader.isr, [1, 2], 'not lagging yet: no shrink');
    now += 30_001;
    isr.checkShrinks();
    await until('the ISR shrinks to the leader', () => leader.isr.length === 1);
    assert.deepEqual(controllerImage.topicsById.get(TID)!.partitions[0].isr, [1]);
    assert.equal(await withDeadline(ack, 'ack 2'), ErrorCode.NONE, 'acknowledged by the ISR that is left');
    assert.equal(leader.highWatermark, 5);
    leader.minInsyncReplicas = 2;
    assert.equal(leader.checkAppend(-1), ErrorCode.NOT_ENOUGH_REPLICAS, 'below min.insync.replicas');
    assert.equal(leader.checkAppend(1), ErrorCode.NONE);

    // the follower comes back and catches up while the leader's image shows it fenced: not proposed
    a.image.apply({ type: 'FenceBroker', nodeId: 2, brokerEpoch: 20 });
    const before = asked;
    fetcher = startFetcher();
    await until('the follower caught up', () => leader.followerEndOffset(2) === 5);
    isr.checkShrinks();
    assert.equal(asked, before, 'a broker fenced in the image is not proposed for the ISR');
    assert.deepEqual(leader.isr, [1]);
    // unfenced: it rejoins
    a.image.apply({ type: 'UnfenceBroker', nodeId: 2, brokerEpoch: 20 });
    isr.checkShrinks();
    await until('the ISR expands again', () => leader.isr.length === 2);
    assert.ok(follower.log.logEndOffset >= 5);
    assert.equal(leader.checkAppend(-1), ErrorCode.NONE);
    const k = leader.appendAsLeader(makeBatch(1));
    assert.equal(await withDeadline(leader.waitForAcks(k.lastOffset + 1), 'ack 3'), ErrorCode.NONE);
    assert.ok(follower.log.logEndOffset >= 6, 'acks=all waited for the follower back in the ISR');
  } finally {
    clearInterval(keepAlive);
    isr.close();
    await fetcher.close();
    await a.rm.close();
    await b.rm.close();
    fs.rmSync(a.dir, { recursive: true, force: true });
    fs.rmSync(b.dir, { recursive: true, force: true });
  }
});
