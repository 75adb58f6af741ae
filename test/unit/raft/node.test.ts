/**
 * RaftNode end to end in one process: three nodes on loopback, each with its
 * metadata log on disk, a SocketServer and a Dispatcher with the raft
 * handlers (as startBroker sets up the CONTROLLER listener), talking Kafka's
 * wire to each other. A leader is elected; appends commit on all three and
 * are delivered in order; DescribeQuorum answers on the leader; closing the
 * leader elects another and appends resume; a node restarted on an emptied
 * directory catches up from a snapshot once the log was trimmed; a node of
 * another cluster is refused and stops. And the one-voter quorum: it elects
 * itself at start, and an append commits only after its fsync.
 *
 * Every wait polls for a condition with a deadline; nothing sleeps.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { RaftNode, type VoterEndpoint } from '../../../src/raft/node.ts';
import { registerRaftHandlers } from '../../../src/raft/handlers.ts';
import { Dispatcher } from '../../../src/server/dispatcher.ts';
import { SocketServer } from '../../../src/server/socket-server.ts';
import { Connection } from '../../../src/client/connection.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { NotControllerError, type QuorumListener } from '../../../src/metadata/quorum.ts';
import {
  FileMetadataLog,
  LEGACY_METADATA_LOG_FILE,
  type MetadataBatch,
  type MetadataSnapshot,
} from '../../../src/metadata/metadata-log.ts';
import type { MetadataRecord } from '../../../src/metadata/records.ts';
import { type FileIO, realFileIO } from '../../../src/storage/file-io.ts';
import { withFileIO } from '../storage/faults.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-raftnode-'));
  dirs.push(d);
  return d;
}

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const ids = (n: number): MetadataRecord => ({ type: 'ProducerIds', nextProducerId: n });

/** The state machine of these tests: the records in commit order (a snapshot replaces them). */
class Recorder implements QuorumListener {
  state: MetadataRecord[] = [];
  batches: MetadataBatch[] = [];
  snapshots: MetadataSnapshot[] = [];
  leaders: [number, number][] = [];
  onCommitted(b: MetadataBatch): void {
    const last = this.batches.at(-1);
    if (last) assert.ok(b.baseOffset > last.lastOffset, `in order: ${b.baseOffset} after ${last.lastOffset}`);
    this.batches.push(b);
    this.state.push(...b.records);
  }
  onSnapshot(s: MetadataSnapshot): void {
    this.snapshots.push(s);
    this.state = [...s.records];
    this.batches = [];
  }
  onLeaderChange(leaderId: number, epoch: number): void {
    this.leaders.push([leaderId, epoch]);
  }
}

interface Member {
  id: number;
  dir: string;
  port: number;
  server: SocketServer | null;
  node: RaftNode | null;
  rec: Recorder;
  fatal: Error | null;
  errors: string[];
}

const timing = { electionTimeoutMs: 500, fetchTimeoutMs: 1000, electionBackoffMaxMs: 300, fetchMaxWaitMs: 200 };

class Cluster {
  members: Member[] = [];
  voters: VoterEndpoint[] = [];

  static async start(n: number, clusterId: string | null = 'cluster-A', fetchMaxBytes?: number): Promise<Cluster> {
    const c = new Cluster();
    c.fetchMaxBytes = fetchMaxBytes;
    for (let id = 1; id <= n; id++) {
      const m: Member = {
        id,
        dir: tempDir(),
        port: 0,
        server: null,
        node: null,
        rec: new Recorder(),
        fatal: null,
        errors: [],
      };
      c.members.push(m);
      await c.listen(m);
    }
    c.voters = c.members.map((m) => ({ id: m.id, host: '127.0.0.1', port: m.port }));
    await Promise.all(c.members.map((m) => c.boot(m, clusterId)));
    return c;
  }

  fetchMaxBytes: number | undefined;
  private dispatchers = new Map<number, Dispatcher>();

  /** Opens the member's listener again (same port) for its running node. */
  async relisten(m: Member): Promise<void> {
    await this.listen(m);
    registerRaftHandlers(this.dispatchers.get(m.id)!, m.node!);
    m.server!.open();
  }

  async listen(m: Member): Promise<void> {
    const dispatcher = new Dispatcher();
    this.dispatchers.set(m.id, dispatcher);
    const server = new SocketServer(
      {
        host: '127.0.0.1',
        port: m.port,
        maxConnections: 100,
        maxFrameBytes: 64 * 1024 * 1024,
        idleTimeoutMs: 0,
        maxInFlightPerConnection: 100,
        logger: pino({ level: 'silent' }),
      },
      (frame, conn) => dispatcher.handle(frame, conn),
    );
    const { port } = await server.listen();
    m.port = port;
    m.server = server;
  }

  /** Opens and starts the member's node (its server is listening). */
  async boot(m: Member, clusterId: string | null): Promise<void> {
    m.fatal = null;
    m.rec = new Recorder();
    const errors = m.errors;
    const node = await RaftNode.open({
      nodeId: m.id,
      voters: this.voters,
      metadataLogDir: m.dir,
      clusterId,
      ...timing,
      fetchMaxBytes: this.fetchMaxBytes,
      logger: { info() {}, warn() {}, error: (_o: object, msg?: string) => errors.push(msg ?? '') },
      onFatal: (err) => (m.fatal = err),
    });
    registerRaftHandlers(this.dispatchers.get(m.id)!, node);
    node.setListener(m.rec);
    m.node = node;
    m.server!.open();
    await node.start();
  }

  /** Stops a member: its node (resigning if it leads) and its server. */
  async stop(m: Member): Promise<void> {
    await m.node!.close();
    await m.server!.close(100);
    m.node = null;
    m.server = null;
  }

  async restart(m: Member, clusterId: string | null = 'cluster-A'): Promise<void> {
    await this.listen(m);
    await this.boot(m, clusterId);
  }

  live(): Member[] {
    return this.members.filter((m) => m.node);
  }

  active(): Member[] {
    return this.live().filter((m) => m.node!.isActiveController);
  }

  async leader(): Promise<Member> {
    await until(() => this.active().length === 1, 'one active controller');
    return this.active()[0];
  }

  async close(): Promise<void> {
    for (const m of this.live()) await this.stop(m);
  }
}

/** Appends `values` one batch each, all at once; resolves with the batches. */
function appendAll(node: RaftNode, values: number[]): Promise<MetadataBatch[]> {
  return Promise.all(values.map((v) => node.append([ids(v)])));
}

function producerIds(state: MetadataRecord[]): number[] {
  return state.map((r) => (r as { nextProducerId: number }).nextProducerId);
}

test('three nodes: a leader is elected, appends commit on all three in order, DescribeQuorum answers on the leader', async () => {
  const c = await Cluster.start(3);
  try {
    const leader = await c.leader();
    const node = leader.node!;
    assert.equal(node.leaderId, leader.id);
    for (const m of c.members) await until(() => m.node!.leaderId === leader.id, `node ${m.id} follows ${leader.id}`);
    // the listener heard of its own leadership once it could act on it
    assert.deepEqual(leader.rec.leaders.at(-1), [leader.id, node.epoch]);

    const values = Array.from({ length: 30 }, (_, i) => i);
    const batches = await appendAll(node, values);
    for (let i = 1; i < batches.length; i++)
      assert.ok(batches[i].baseOffset > batches[i - 1].lastOffset, `batch ${i} after batch ${i - 1}`);
    assert.deepEqual(producerIds(leader.rec.state), values, 'delivered on the leader in append order');
    const end = node.committedOffset;
    for (const m of c.members) {
      await until(() => m.node!.committedOffset >= end, `node ${m.id} to deliver up to ${end}`);
      assert.deepEqual(producerIds(m.rec.state), values, `node ${m.id} delivered the same, in order`);
    }

    // a follower does not take appends
    const follower = c.members.find((m) => m !== leader)!;
    await assert.rejects(follower.node!.append([ids(99)]), (e: Error) => {
      assert.ok(e instanceof NotControllerError, String(e));
      assert.equal(e.leaderId, leader.id);
      return true;
    });

    // an observer (a broker-only node: not a voter, no listener) fetches the log and never votes
    const observerRec = new Recorder();
    const observer = await RaftNode.open({
      nodeId: 4,
      voters: c.voters,
      metadataLogDir: tempDir(),
      clusterId: 'cluster-A',
      ...timing,
      logger: pino({ level: 'silent' }),
    });
    observer.setListener(observerRec);
    await observer.start();
    await observer.whenCaughtUp();
    assert.ok(observer.committedOffset >= end, `observer at ${observer.committedOffset}`);
    assert.deepEqual(producerIds(observerRec.state), values);
    assert.equal(observer.role, 'observer');
    for (const m of c.members) await m.node!.whenCaughtUp();

    // DescribeQuorum (55) on the CONTROLLER listener; the leader knows a replica's position from its latest Fetch
    const conn = new Connection({ host: '127.0.0.1', port: leader.port });
    await conn.connect();
    const describe = () =>
      conn.send('DescribeQuorum', {
        topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }],
      });
    let dq = await describe();
    const caughtUp = (d: typeof dq) =>
      [...d.topics[0].partitions[0].currentVoters, ...d.topics[0].partitions[0].observers].every(
        (r) => Number(r.logEndOffset) >= end,
      ) && d.topics[0].partitions[0].observers.length === 1;
    for (const deadline = Date.now() + 30_000; !caughtUp(dq) && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 20));
      dq = await describe();
    }
    await conn.close();
    const p = dq.topics[0].partitions[0];
    assert.equal(p.errorCode, ErrorCode.NONE);
    assert.equal(p.leaderId, leader.id);
    assert.equal(p.leaderEpoch, node.epoch);
    assert.ok(Number(p.highWatermark) >= end, `high watermark ${p.highWatermark}`);
    assert.deepEqual(
      p.currentVoters.map((v) => v.replicaId),
      [1, 2, 3],
    );
    assert.ok(caughtUp(dq), `every replica at ${end}: ${JSON.stringify([...p.currentVoters, ...p.observers])}`);
    assert.deepEqual(
      dq.nodes.map((n) => [n.nodeId, n.listeners[0].port]),
      c.members.map((m) => [m.id, m.port]),
    );
    assert.deepEqual(
      p.observers.map((o) => o.replicaId),
      [4],
    );
    await observer.close();
    const fconn = new Connection({ host: '127.0.0.1', port: follower.port });
    await fconn.connect();
    const fdq = await fconn.send('DescribeQuorum', {
      topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }],
    });
    await fconn.close();
    assert.equal(fdq.topics[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.equal(fdq.topics[0].partitions[0].leaderId, leader.id);
  } finally {
    await c.close();
  }
});

test('closing the leader elects another; appends resume; the old leader comes back and catches up', async () => {
  const c = await Cluster.start(3);
  try {
    const first = await c.leader();
    await appendAll(first.node!, [1, 2, 3]);
    const epoch = first.node!.epoch;
    const closedAt = Date.now();
    await c.stop(first);
    const second = await c.leader();
    const elapsed = Date.now() - closedAt;
    assert.notEqual(second.id, first.id);
    assert.ok(second.node!.epoch > epoch, `epoch ${second.node!.epoch} after ${epoch}`);
    console.log(`# leader ${first.id} closed -> node ${second.id} active controller after ${elapsed} ms`);
    await appendAll(second.node!, [4, 5]);
    for (const m of c.live()) await until(() => producerIds(m.rec.state).length === 5, `node ${m.id} at 5 records`);

    await c.restart(first);
    await appendAll((await c.leader()).node!, [6]);
    await until(() => producerIds(first.rec.state).length === 6, 'the restarted node to catch up');
    assert.deepEqual(producerIds(first.rec.state), [1, 2, 3, 4, 5, 6]);
    assert.equal(first.rec.snapshots.length, 0, 'caught up from the log');
  } finally {
    await c.close();
  }
});

test('a leader cut off from the voters is replaced after the fetch timeout and steps down; it follows once reachable', async () => {
  const c = await Cluster.start(3);
  try {
    const old = await c.leader();
    await appendAll(old.node!, [1]);
    const epoch = old.node!.epoch;
    // nobody can reach it any more (its own requests still go out)
    await old.server!.close(0);
    old.server = null;
    const cutAt = Date.now();
    await until(
      () => c.members.some((m) => m !== old && m.node!.isActiveController),
      'another node to become the active controller',
    );
    const next = c.members.find((m) => m !== old && m.node!.isActiveController)!;
    console.log(`# leader ${old.id} unreachable -> node ${next.id} active controller after ${Date.now() - cutAt} ms`);
    assert.ok(next.node!.epoch > epoch, `epoch ${next.node!.epoch} after ${epoch}`);
    // check quorum: without a majority fetching from it, the old leader resigns
    await until(() => !old.node!.isActiveController, 'the cut-off leader to step down');
    await assert.rejects(old.node!.append([ids(99)]), NotControllerError);
    await appendAll(next.node!, [2]);
    await c.relisten(old);
    await until(() => old.node!.leaderId === next.id, 'the old leader to follow the new one');
    await until(() => producerIds(old.rec.state).join() === '1,2', 'the old leader to catch up');
  } finally {
    await c.close();
  }
});

test('a node restarted on an emptied directory catches up from a snapshot after the log was trimmed', async () => {
  const c = await Cluster.start(3, 'cluster-A', 2048);
  try {
    const leader = await c.leader();
    const values = Array.from({ length: 200 }, (_, i) => 1000 + i);
    for (let i = 0; i < values.length; i += 20) await appendAll(leader.node!, values.slice(i, i + 20));
    const end = leader.node!.committedOffset;
    // every live node snapshots its own state and trims its log
    for (const m of c.live()) {
      await until(() => m.node!.committedOffset >= end, `node ${m.id} at ${end}`);
      await m.node!.writeSnapshot(m.node!.committedOffset, m.rec.state);
      assert.equal(m.node!.log.startOffset, m.node!.committedOffset, `node ${m.id} trimmed its log`);
    }
    const victim = c.members.find((m) => m !== leader)!;
    await c.stop(victim);
    fs.rmSync(victim.dir, { recursive: true, force: true });
    fs.mkdirSync(victim.dir);
    await appendAll(leader.node!, [1, 2]);
    await c.restart(victim);
    await until(() => producerIds(victim.rec.state).length === values.length + 2, 'the emptied node to catch up');
    assert.equal(victim.rec.snapshots.length, 1, 'from the leader’s snapshot');
    assert.ok(victim.rec.snapshots[0].endOffset >= end, `snapshot at ${victim.rec.snapshots[0].endOffset}`);
    assert.deepEqual(producerIds(victim.rec.state), [...values, 1, 2]);
    assert.equal(victim.node!.log.startOffset, victim.rec.snapshots[0].endOffset);
    // and it takes part again: a new leader elsewhere can count on it
    await appendAll(leader.node!, [3]);
    await until(() => producerIds(victim.rec.state).at(-1) === 3, 'the next append on the caught-up node');
  } finally {
    await c.close();
  }
});

test('a node of another cluster is refused by the quorum and stops with a clear line; the quorum goes on', async () => {
  const c = await Cluster.start(3, 'cluster-A');
  try {
    const leader = await c.leader();
    await appendAll(leader.node!, [1]);
    const odd = c.members.find((m) => m !== leader)!;
    await c.stop(odd);
    await c.restart(odd, 'cluster-B');
    await until(() => odd.fatal !== null, 'the odd node to stop');
    assert.match(odd.fatal!.message, /INCONSISTENT_CLUSTER_ID/);
    assert.match(odd.fatal!.message, /another cluster/);
    assert.ok(
      odd.errors.some((l) => /refused this node/.test(l)),
      odd.errors.join('\n'),
    );
    assert.equal(odd.node!.isActiveController, false);
    await assert.rejects(odd.node!.append([ids(2)]));
    // the others never stopped, and still commit
    for (const m of c.members.filter((x) => x !== odd)) assert.equal(m.fatal, null);
    await appendAll((await c.leader()).node!, [2]);
  } finally {
    await c.close();
  }
});

/** A FileIO whose fdatasyncs wait until released. */
class GatedIO implements FileIO {
  held: (() => void)[] = [];
  hold = false;
  write = realFileIO.write;
  fsync = realFileIO.fsync;
  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void {
    if (this.hold) this.held.push(() => realFileIO.fdatasync(fd, cb));
    else realFileIO.fdatasync(fd, cb);
  }
  release(): void {
    this.hold = false;
    const h = this.held;
    this.held = [];
    for (const f of h) f();
  }
}

test('a failed fsync stops the node: the append is not committed, and nothing more is taken', async () => {
  const dir = tempDir();
  let fatal: Error | null = null;
  const node = await RaftNode.open({
    nodeId: 1,
    voters: [{ id: 1, host: '', port: 0 }],
    metadataLogDir: dir,
    clusterId: null,
    ...timing,
    logger: pino({ level: 'silent' }),
    onFatal: (e) => (fatal = e),
  });
  const rec = new Recorder();
  node.setListener(rec);
  await node.start();
  await node.append([ids(1)]);
  const failing: FileIO = {
    write: realFileIO.write,
    fsync: realFileIO.fsync,
    fdatasync: (_fd, cb) => setImmediate(() => cb(Object.assign(new Error('EIO: injected'), { code: 'EIO' }))),
  };
  await withFileIO(failing, async () => {
    await assert.rejects(node.append([ids(2)]), /fsync|EIO|storage/i);
  });
  assert.ok(fatal, 'onFatal called');
  assert.equal(node.isActiveController, false);
  assert.deepEqual(producerIds(rec.state), [1], 'the batch whose fsync failed was never delivered');
  await assert.rejects(node.append([ids(3)]));
  await node.close();
});

test('one voter: no network, elected at start; an append commits only once fsynced; a restart replays the log', async () => {
  const dir = tempDir();
  const open = async () => {
    const rec = new Recorder();
    const node = await RaftNode.open({
      nodeId: 1,
      voters: [{ id: 1, host: '', port: 0 }],
      metadataLogDir: dir,
      clusterId: null,
      ...timing,
      logger: pino({ level: 'silent' }),
    });
    node.setListener(rec);
    return { node, rec };
  };
  const { node, rec } = await open();
  const started = Date.now();
  await node.start();
  assert.equal(node.isActiveController, true, 'active as soon as start() resolves');
  console.log(`# one voter active ${Date.now() - started} ms after start()`);
  assert.deepEqual(rec.leaders, [[1, node.epoch]]);

  const io = new GatedIO();
  await withFileIO(io, async () => {
    io.hold = true;
    let done = false;
    const p = node.append([ids(7)]).then((b) => {
      done = true;
      return b;
    });
    await until(() => io.held.length > 0, 'the fsync of the append');
    assert.equal(done, false, 'not committed before its fsync');
    assert.equal(node.committedOffset <= node.log.durableEndOffset, true);
    io.release();
    const b = await p;
    assert.ok(node.log.durableEndOffset > b.lastOffset, 'durable when committed');
  });
  await node.append([ids(8)]);
  assert.deepEqual(producerIds(rec.state), [7, 8]);
  const epoch = node.epoch;
  await node.close();

  const again = await open();
  await again.node.start();
  assert.deepEqual(producerIds(again.rec.state), [7, 8], 'the log replayed at start');
  assert.ok(again.node.epoch > epoch, 'a new epoch');
  await again.node.append([ids(9)]);
  assert.deepEqual(producerIds(again.rec.state), [7, 8, 9]);
  await again.node.close();
});

test('upgrade: a metadata dir of the single-node broker starts as a one-voter quorum with nothing lost', async () => {
  // today's single node: every start is a new leader epoch, no quorum-state file
  const dir = tempDir();
  for (let run = 0; run < 3; run++) {
    const log = await FileMetadataLog.open(dir);
    await log.append([ids(run * 10)]);
    await log.append([ids(run * 10 + 1)]);
    await log.close();
  }
  const open = async (d: string) => {
    const rec = new Recorder();
    const node = await RaftNode.open({
      nodeId: 1,
      voters: [{ id: 1, host: '', port: 0 }],
      metadataLogDir: d,
      clusterId: null,
      ...timing,
      logger: pino({ level: 'silent' }),
    });
    node.setListener(rec);
    await node.start();
    return { node, rec };
  };
  const { node, rec } = await open(dir);
  assert.deepEqual(producerIds(rec.state), [0, 1, 10, 11, 20, 21]);
  assert.ok(node.epoch > 2, `epoch ${node.epoch} above the log's epochs`);
  await node.append([ids(30)]);
  assert.deepEqual(producerIds(rec.state), [0, 1, 10, 11, 20, 21, 30]);
  await node.close();

  // and a dir of the JSON-framed log before that (converted to a snapshot on open)
  const fixture = path.resolve(import.meta.dirname, '../../fixtures/legacy-metadata-dir', LEGACY_METADATA_LOG_FILE);
  const [legacy, reference] = [tempDir(), tempDir()];
  fs.copyFileSync(fixture, path.join(legacy, LEGACY_METADATA_LOG_FILE));
  fs.copyFileSync(fixture, path.join(reference, LEGACY_METADATA_LOG_FILE));
  const converted = await FileMetadataLog.open(reference);
  const expected = converted.load().snapshot!;
  await converted.close();
  const old = await open(legacy);
  assert.equal(old.rec.snapshots.length, 1);
  assert.deepEqual(old.rec.snapshots[0], expected, 'the converted image, as the single node converts it');
  assert.ok(
    expected.records.some((r) => r.type === 'Topic'),
    'the converted snapshot holds topics',
  );
  const b = await old.node.append([ids(5)]);
  assert.equal(b.baseOffset, expected.endOffset + 1, 'after the snapshot and the leader change');
  await old.node.close();
});
