/**
 * The replication simulator: one partition (RF=3, min.insync.replicas=2) on
 * three brokers in one process, driven from one seed with a simulated clock,
 * over the real replication code:
 *
 * - each broker's `Partition` (src/server/partition.ts) over a real
 *   `PartitionLog` in a temp dir, its fsyncs held until the simulated disk
 *   answers;
 * - the leader's side of a follower fetch (`acceptFollowerFetch` of
 *   handlers/fetch.ts: diverging epoch, follower end offsets, the high
 *   watermark) and a read up to the log end offset, as the Fetch handler;
 * - the follower's side (`applyFetchedPartition` of replica-fetcher.ts:
 *   truncation on a diverging epoch, append, the leader's high watermark), a
 *   fetch offset sent only once fsynced, as the replica fetcher;
 * - the controller's rules on a `MetadataImage`: fencing and election from
 *   the ISR (`partitionChangesWithout`), election of leaderless partitions on
 *   an unfence, AlterPartition's checks (`checkAlterPartition`); ISR shrink and
 *   expansion asked as IsrChanges asks them (lagging replicas, caught-up
 *   replicas; the Partition told of each request and answer).
 *
 * The seed draws a workload (acks=all produces sent to whichever broker the
 * client believes leads) and faults: message delay and loss, slow disks,
 * crashes that keep only what was fsynced (plus, at random, some of what was
 * not, torn or whole: the files are cut and the log reopens and recovers from
 * disk), brokers cut from the controller (fenced while running: zombie
 * leaders), links cut between brokers, restarts. After every step it checks:
 *
 * - a record acknowledged with acks=all is in every later leader's log, at
 *   its offset, byte for byte;
 * - an offset committed durably (below a leader's high watermark and
 *   recovery point while its ISR had min.insync.replicas members) is never
 *   lost nor changed: every later leader holds it, and every ISR member
 *   agrees with it below its own high watermark;
 * - a leader's high watermark never goes backwards within its leader epoch,
 *   and no high watermark passes its log end offset.
 *
 * Agreement below the high watermark is checked on the durably committed
 * part: a leader's high watermark may cover records its own fsync has not
 * reached yet (followers fsync before they report), and when every copy of
 * those is lost to power failures a later leader legitimately writes other
 * records at those offsets; acks=all never acknowledges them.
 *
 * Then it heals everything and checks that the replicas converge: identical
 * bytes below one high watermark that covers every acknowledged record.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { batch as hdr } from '../../src/protocol/records/batch-header.ts';
import { MetadataImage, type PartitionState, type TopicState } from '../../src/metadata/image.ts';
import type { MetadataRecord, PartitionChangeRecord } from '../../src/metadata/records.ts';
import { checkAlterPartition } from '../../src/metadata/controller.ts';
import { Partition } from '../../src/server/partition.ts';
import { applyFetchedPartition } from '../../src/server/replica-fetcher.ts';
import { acceptFollowerFetch } from '../../src/server/handlers/fetch.ts';
import { PartitionLog } from '../../src/storage/partition-log.ts';
import { defaultLogConfig, type LogConfig } from '../../src/storage/log-config.ts';
import { CorruptRecordError, OffsetOutOfRangeError } from '../../src/storage/errors.ts';
import { EventQueue, Rng } from '../sim/network.ts';
import { makeBatch } from '../unit/storage/fixtures.ts';

/** Planted bugs (test-only): each one breaks a rule the simulator must catch. */
export interface ReplicationBugs {
  /** The leader's high watermark follows any one follower, not the whole ISR. */
  hwFromAnyReplica?: boolean;
  /** Followers report their log end offset as fetch offset before it is fsynced. */
  followerReportsUnfsynced?: boolean;
  /** On a fence, the controller elects the first live replica, in the ISR or not. */
  electOutsideIsr?: boolean;
  /** Followers never learn of a divergence (no last fetched epoch): no truncation. */
  noTruncateOnDivergence?: boolean;
  /**
   * The leader counts only the ISR its image shows, not the members an ISR
   * change it asked for may have added (the defect the simulator found).
   */
  noMaximalIsr?: boolean;
}

export const BUG_NAMES: (keyof ReplicationBugs)[] = [
  'hwFromAnyReplica',
  'followerReportsUnfsynced',
  'electOutsideIsr',
  'noTruncateOnDivergence',
  'noMaximalIsr',
];

export interface ReplSimOptions {
  seed: number;
  bugs?: ReplicationBugs;
  /** One line per event and state change (the replay's `--verbose`). */
  trace?: (line: string) => void;
  /** Simulated time with faults (ms), then the bound for convergence after healing. */
  faultMs?: number;
  healMs?: number;
  /** The most a broker's image may lag the controller's (ms; the seed draws it otherwise). */
  metadataDelayMs?: number;
  /** Parent of the brokers' log dirs (default: /dev/shm when present, else the OS temp dir). */
  baseDir?: string;
}

export interface ReplSimResult {
  seed: number;
  ok: boolean;
  failure?: string;
  failedAt?: number;
  scenario: string;
  steps: number;
  simulatedMs: number;
  produced: number;
  acked: number;
  /** The highest durably committed offset (end). */
  committed: number;
  leaderEpochs: number;
  crashes: number;
  truncations: number;
  isrChanges: number;
}

class SimFailure extends Error {}

const IDS = [1, 2, 3] as const;
const TOPIC = 'sim';
const TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAQ';
const MIN_ISR = 2;
const CONTROLLER = 0;

interface FetchReq {
  kind: 'fetchReq';
  from: number;
  incarnation: number;
  leaderEpoch: number;
  fetchOffset: number;
  lastFetchedEpoch: number;
  maxBytes: number;
}
interface FetchRes {
  kind: 'fetchRes';
  to: number;
  incarnation: number;
  leaderEpoch: number;
  fetchOffset: number;
  errorCode: number;
  highWatermark: number;
  divergingEpoch?: { epoch: number; endOffset: number };
  records: Buffer | null;
  lastFetchedEpoch: number;
  /** The leader's epochs (start offsets), for the trace. */
  leaderEpochs: string;
}
interface ProduceReq {
  kind: 'produceReq';
  to: number;
  seq: number;
}
interface ProduceRes {
  kind: 'produceRes';
  seq: number;
  errorCode: number;
  offset: number;
  bytes: Buffer;
}
interface AlterReq {
  kind: 'alterReq';
  from: number;
  incarnation: number;
  brokerEpoch: number;
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: number[];
}
interface AlterRes {
  kind: 'alterRes';
  to: number;
  incarnation: number;
  /** The partition as the controller has it (none when the broker epoch was stale). */
  answer?: { leaderEpoch: number; isr: number[]; partitionEpoch: number };
}
type Message = FetchReq | FetchRes | ProduceReq | ProduceRes | AlterReq | AlterRes;

type SimEvent =
  | { kind: 'deliver'; from: number; to: number; msg: Message }
  | { kind: 'fetch'; node: number; incarnation: number }
  | { kind: 'fetchTimeout'; node: number; incarnation: number; token: number }
  | { kind: 'fsyncDone'; node: number; incarnation: number }
  | { kind: 'alterTimeout'; node: number; incarnation: number; token: number }
  | { kind: 'metadata'; node: number; incarnation: number }
  | { kind: 'isrCheck'; node: number; incarnation: number }
  | { kind: 'checkpoint'; node: number; incarnation: number }
  | { kind: 'produce' }
  | { kind: 'fault' }
  | { kind: 'fence'; node: number; brokerEpoch: number }
  | { kind: 'unfence'; node: number; brokerEpoch: number }
  | { kind: 'restart'; node: number }
  | { kind: 'healLinks' }
  | { kind: 'endFaults' };

interface SimNode {
  id: number;
  dir: string;
  alive: boolean;
  incarnation: number;
  log: PartitionLog | null;
  part: Partition | null;
  /** fsyncs issued and not answered yet by the simulated disk. */
  fsyncs: (() => void)[];
  fsyncScheduled: boolean;
  slowDiskUntil: number;
  /** The replication-offset and recovery-point checkpoints (written whole, as the log manager's). */
  hwCheckpoint: number | undefined;
  rpCheckpoint: number;
  /** The partition epoch of the state this node follows. */
  knownPartitionEpoch: number;
  /** A fetch is out (or its flush is running): its token. */
  fetchToken: number;
  fetchOut: boolean;
  alterInFlight: boolean;
  alterToken: number;
  /** How far the acknowledged records (count) and committed batches (offset) were checked on this log since it last truncated. */
  ackedChecked: number;
  committedChecked: number;
  /** The leader epoch and high watermark this incarnation had as leader. */
  leaderHw: { epoch: number; hw: number };
}

interface Acked {
  seq: number;
  offset: number;
  bytes: Buffer;
}

export async function runReplSimulation(options: ReplSimOptions): Promise<ReplSimResult> {
  const sim = new ReplSimulation(options);
  try {
    return await sim.run();
  } finally {
    sim.cleanup();
  }
}

class ReplSimulation {
  private readonly rng: Rng;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly bugs: ReplicationBugs;
  private readonly trace?: (line: string) => void;
  private readonly root: string;
  private readonly nodes = new Map<number, SimNode>();
  private readonly image = new MetadataImage();
  private readonly config: LogConfig;
  private now = 0;
  private steps = 0;
  private readonly faultMs: number;
  private readonly healMs: number;
  private faultsOn = true;
  // drawn from the seed
  private readonly drop: number;
  private readonly maxDelay: number;
  private readonly flushMax: number;
  private readonly produceEvery: number;
  private readonly faultEvery: number;
  private readonly lagMaxMs: number;
  private readonly metadataDelay: number;
  private readonly weights: Record<string, number>;
  /** Links cut: `a-b` (both directions); the controller is node 0. */
  private readonly cut = new Set<string>();
  private nextBrokerEpoch = 100;
  private produceSeq = 0;
  private readonly inFlightProduces = new Map<number, number>();
  private readonly acked: Acked[] = [];
  /** Durably committed batches: base offset -> bytes; and the end of what is known committed. */
  private readonly committed = new Map<number, Buffer>();
  private committedEnd = 0;
  private crashes = 0;
  private truncations = 0;
  private isrChanges = 0;
  private readonly leaderEpochsSeen = new Set<number>();
  /** The last produce sent before the healing: one sent after it must be acknowledged. */
  private healSeq = Number.POSITIVE_INFINITY;
  private readonly scenario: string;

  constructor(private readonly options: ReplSimOptions) {
    const rng = (this.rng = new Rng(options.seed));
    this.bugs = options.bugs ?? {};
    this.trace = options.trace;
    this.faultMs = options.faultMs ?? 3000;
    this.healMs = options.healMs ?? 4000;
    this.drop = rng.pick([0, 0, 0.02, 0.1]);
    this.maxDelay = rng.pick([2, 5, 20]);
    this.flushMax = rng.pick([1, 5, 20]);
    this.produceEvery = rng.pick([3, 10, 30]);
    this.faultEvery = rng.pick([60, 150, 400]);
    this.lagMaxMs = rng.pick([30, 100, 300]);
    this.metadataDelay = options.metadataDelayMs ?? rng.pick([this.maxDelay, 3 * this.maxDelay, 50]);
    this.weights = {};
    for (const k of ['crash', 'crashLeader', 'crashTwo', 'isolate', 'cutLink', 'slowDisk', 'quiet'])
      this.weights[k] = k === 'quiet' ? 1 : rng.chance(0.7) ? rng.int(1, 8) : 0;
    const segmentBytes = rng.pick([1 << 30, 2048, 600]);
    this.config = { ...defaultLogConfig(), segmentBytes, fileDeleteDelayMs: 0 };
    const parent = options.baseDir ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
    this.root = fs.mkdtempSync(path.join(parent, `replsim-${options.seed}-`));
    const faults = Object.entries(this.weights)
      .filter(([, w]) => w > 0)
      .map(([k, w]) => `${k}:${w}`)
      .join(' ');
    this.scenario =
      `drop ${this.drop}, delay <=${this.maxDelay} ms, fsync <=${this.flushMax} ms, ` +
      `produce every ~${this.produceEvery} ms, fault every ~${this.faultEvery} ms (${faults}), ` +
      `replica.lag.time.max.ms ${this.lagMaxMs}, metadata delay <=${this.metadataDelay} ms, segment.bytes ${segmentBytes}`;
  }

  cleanup(): void {
    for (const n of this.nodes.values()) n.log?.abandon();
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  private log(line: string): void {
    this.trace?.(`${String(this.now).padStart(6)} ${line}`);
  }

  private fail(msg: string): never {
    throw new SimFailure(msg);
  }

  // ---- setup ------------------------------------------------------------------------

  async run(): Promise<ReplSimResult> {
    const result = (ok: boolean, failure?: string): ReplSimResult => ({
      seed: this.options.seed,
      ok,
      ...(failure !== undefined ? { failure, failedAt: this.now } : {}),
      scenario: this.scenario,
      steps: this.steps,
      simulatedMs: this.now,
      produced: this.produceSeq,
      acked: this.acked.length,
      committed: this.committedEnd,
      leaderEpochs: this.leaderEpochsSeen.size,
      crashes: this.crashes,
      truncations: this.truncations,
      isrChanges: this.isrChanges,
    });
    try {
      this.log(`scenario: ${this.scenario}`);
      const replicas = [...IDS];
      for (let i = replicas.length - 1; i > 0; i--) {
        const j = this.rng.int(0, i);
        [replicas[i], replicas[j]] = [replicas[j], replicas[i]];
      }
      const records: MetadataRecord[] = [];
      for (const id of IDS)
        records.push({
          type: 'RegisterBroker',
          nodeId: id,
          incarnationId: `i${id}`,
          listeners: [],
          rack: null,
          brokerEpoch: this.nextBrokerEpoch++,
        });
      records.push({ type: 'Topic', name: TOPIC, topicId: TOPIC_ID });
      records.push({
        type: 'Partition',
        topicId: TOPIC_ID,
        partition: 0,
        replicas,
        isr: [...replicas],
        leader: replicas[0],
        leaderEpoch: 0,
        partitionEpoch: 0,
      });
      for (const r of records) this.image.apply(r);
      for (const id of IDS) {
        const n: SimNode = {
          id,
          dir: path.join(this.root, `broker-${id}`, `${TOPIC}-0`),
          alive: false,
          incarnation: 0,
          log: null,
          part: null,
          fsyncs: [],
          fsyncScheduled: false,
          slowDiskUntil: 0,
          hwCheckpoint: undefined,
          rpCheckpoint: 0,
          knownPartitionEpoch: -1,
          fetchToken: 0,
          fetchOut: false,
          alterInFlight: false,
          alterToken: 0,
          ackedChecked: 0,
          committedChecked: 0,
          leaderHw: { epoch: -1, hw: -1 },
        };
        this.nodes.set(id, n);
        await this.start(n);
      }
      this.queue.push(this.rng.int(0, this.faultEvery), { kind: 'fault' });
      this.queue.push(1, { kind: 'produce' });
      this.queue.push(this.faultMs, { kind: 'endFaults' });
      const end = this.faultMs + this.healMs;
      while (this.queue.size > 0) {
        const { at, event } = this.queue.pop()!;
        if (at > end) break;
        this.now = at;
        this.steps++;
        await this.handle(event);
        await settle();
        this.check();
        if (!this.faultsOn && this.converged()) return result(true);
      }
      this.fail(`no convergence ${this.healMs} ms after healing: ${this.describeAll()}`);
    } catch (err) {
      if (err instanceof SimFailure) return result(false, err.message);
      return result(false, `unexpected error: ${(err as Error).stack ?? String(err)}`);
    }
  }

  /** (Re)starts a broker: its log opened from disk (recovering what the crash left), its partition fenced. */
  private async start(n: SimNode): Promise<void> {
    n.incarnation++;
    n.alive = true;
    const inc = n.incarnation;
    let opening = true;
    const log = await PartitionLog.open(n.dir, this.config, {
      now: () => this.now,
      recoveryPoint: n.rpCheckpoint,
      highWatermark: n.hwCheckpoint,
      fsync: () =>
        opening
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              if (n.incarnation !== inc || !n.alive) return; // a crashed disk never answers
              n.fsyncs.push(resolve);
              this.scheduleFsync(n);
            }),
    });
    opening = false;
    n.log = log;
    const topic: TopicState = { name: TOPIC, topicId: TOPIC_ID, partitions: [], configs: new Map() };
    const part = new Partition(topic, 0, log, n.id, { now: () => this.now });
    part.minInsyncReplicas = MIN_ISR;
    part.onIsrCandidate = (p) => this.maybeExpand(n, p);
    if (this.bugs.hwFromAnyReplica) plantHwFromAnyReplica(part);
    n.part = part;
    n.knownPartitionEpoch = -1;
    n.fetchOut = false;
    n.alterInFlight = false;
    n.ackedChecked = 0;
    n.committedChecked = 0;
    n.leaderHw = { epoch: -1, hw: -1 };
    this.log(
      `broker ${n.id} starts (incarnation ${inc}): log end ${log.logEndOffset}, hw ${log.highWatermark}, recovery point ${log.recoveryPoint}`,
    );
    this.learnMetadata(n);
    this.queue.push(this.now + 1, { kind: 'fetch', node: n.id, incarnation: inc });
    this.queue.push(this.now + Math.floor(this.lagMaxMs / 2), { kind: 'isrCheck', node: n.id, incarnation: inc });
    this.queue.push(this.now + this.rng.int(10, 100), { kind: 'checkpoint', node: n.id, incarnation: inc });
  }

  // ---- the network ------------------------------------------------------------------

  private linkCut(a: number, b: number): boolean {
    return this.cut.has(`${Math.min(a, b)}-${Math.max(a, b)}`);
  }

  /** Sends `msg` (lost with the seed's drop rate, or when the link is cut; the client sits with the controller). */
  private send(from: number, to: number, msg: Message): void {
    if (this.linkCut(from, to) || this.rng.chance(this.drop)) {
      this.log(`  lost ${from}->${to} ${msg.kind}`);
      return;
    }
    this.queue.push(this.now + this.rng.int(0, this.maxDelay), { kind: 'deliver', from, to, msg });
  }

  private scheduleFsync(n: SimNode): void {
    if (n.fsyncScheduled) return;
    n.fsyncScheduled = true;
    const slow = this.now < n.slowDiskUntil ? this.rng.int(20, 150) : 0;
    this.queue.push(this.now + this.rng.int(0, this.flushMax) + slow, {
      kind: 'fsyncDone',
      node: n.id,
      incarnation: n.incarnation,
    });
  }

  private nodeUp(id: number, incarnation: number): SimNode | undefined {
    const n = this.nodes.get(id);
    return n?.alive && n.incarnation === incarnation ? n : undefined;
  }

  // ---- events -----------------------------------------------------------------------

  private async handle(e: SimEvent): Promise<void> {
    switch (e.kind) {
      case 'deliver':
        return this.deliver(e.from, e.to, e.msg);
      case 'fetch': {
        const n = this.nodeUp(e.node, e.incarnation);
        if (n) this.fetch(n);
        return;
      }
      case 'fetchTimeout': {
        const n = this.nodeUp(e.node, e.incarnation);
        if (n?.fetchOut && n.fetchToken === e.token) {
          n.fetchOut = false;
          this.queue.push(this.now, { kind: 'fetch', node: n.id, incarnation: n.incarnation });
        }
        return;
      }
      case 'fsyncDone': {
        const n = this.nodeUp(e.node, e.incarnation);
        if (!n) return;
        n.fsyncScheduled = false;
        const done = n.fsyncs;
        n.fsyncs = [];
        for (const r of done) r();
        return;
      }
      case 'alterTimeout': {
        const n = this.nodeUp(e.node, e.incarnation);
        if (n && n.alterToken === e.token) n.alterInFlight = false;
        return;
      }
      case 'metadata': {
        const n = this.nodeUp(e.node, e.incarnation);
        if (n) this.learnMetadata(n);
        return;
      }
      case 'isrCheck': {
        const n = this.nodeUp(e.node, e.incarnation);
        if (!n) return;
        this.maybeShrink(n);
        this.queue.push(this.now + Math.max(1, Math.floor(this.lagMaxMs / 2)), { ...e });
        return;
      }
      case 'checkpoint': {
        const n = this.nodeUp(e.node, e.incarnation);
        if (!n?.log) return;
        n.hwCheckpoint = n.log.highWatermark;
        n.rpCheckpoint = n.log.recoveryPoint;
        this.queue.push(this.now + this.rng.int(20, 200), { ...e });
        return;
      }
      case 'produce':
        this.produce();
        if (this.faultsOn) this.queue.push(this.now + this.rng.int(1, 2 * this.produceEvery), e);
        return;
      case 'fault':
        if (!this.faultsOn) return;
        this.fault();
        this.queue.push(this.now + this.rng.int(1, 2 * this.faultEvery), e);
        return;
      case 'fence':
        return this.fence(e.node, e.brokerEpoch);
      case 'unfence':
        return this.unfence(e.node, e.brokerEpoch);
      case 'restart': {
        const n = this.nodes.get(e.node)!;
        if (n.alive) return;
        const b = this.image.brokers.get(n.id);
        if (b && !b.fenced) {
          // the controller has not fenced the previous run yet: it does when the broker registers again
          this.fence(n.id, b.brokerEpoch);
        }
        await this.start(n);
        this.register(n);
        return;
      }
      case 'healLinks':
        if (this.cut.size) this.log('links healed');
        this.cut.clear();
        this.unfenceLive();
        return;
      case 'endFaults':
        return this.endFaults();
    }
  }

  private deliver(from: number, to: number, msg: Message): void {
    if (this.linkCut(from, to)) return;
    switch (msg.kind) {
      case 'fetchReq':
        this.onFetchRequest(to, msg);
        return;
      case 'fetchRes':
        this.onFetchResponse(msg);
        return;
      case 'produceReq':
        this.onProduceRequest(msg);
        return;
      case 'produceRes':
        this.onProduceResponse(msg);
        return;
      case 'alterReq':
        this.onAlterPartition(msg);
        return;
      case 'alterRes': {
        const n = this.nodeUp(msg.to, msg.incarnation);
        if (!n) return;
        n.alterInFlight = false;
        if (msg.answer && !this.bugs.noMaximalIsr) n.part?.isrChangeAnswered(msg.answer);
        return;
      }
    }
  }

  // ---- metadata: the controller's image, followed by each broker -------------------

  private state(): PartitionState {
    return this.image.topicsById.get(TOPIC_ID)!.partitions[0];
  }

  private applyRecords(records: MetadataRecord[], why: string): void {
    if (records.length === 0) return;
    for (const r of records) this.image.apply(r);
    const s = this.state();
    this.leaderEpochsSeen.add(s.leaderEpoch);
    this.log(
      `controller (${why}): leader ${s.leader} epoch ${s.leaderEpoch}, isr [${s.isr}], partition epoch ${s.partitionEpoch}`,
    );
    for (const n of this.nodes.values()) {
      if (!n.alive || this.linkCut(CONTROLLER, n.id)) continue;
      this.queue.push(this.now + this.rng.int(0, this.metadataDelay), {
        kind: 'metadata',
        node: n.id,
        incarnation: n.incarnation,
      });
    }
  }

  /** The broker takes the controller's current partition state, if newer than what it follows. */
  private learnMetadata(n: SimNode): void {
    if (this.linkCut(CONTROLLER, n.id)) return;
    const s = this.state();
    if (s.partitionEpoch <= n.knownPartitionEpoch || !n.part) return;
    if (s.leaderEpoch < n.part.leaderEpoch) return;
    n.knownPartitionEpoch = s.partitionEpoch;
    const was = n.part.role;
    n.part.update({ ...s, replicas: [...s.replicas], isr: [...s.isr] });
    this.log(`broker ${n.id} follows: ${n.part.role} epoch ${s.leaderEpoch} leader ${s.leader} isr [${s.isr}]`);
    if (was !== n.part.role || n.part.role === 'follower') {
      // a new leader epoch: fetch again at once (the fetcher's retryNow)
      n.fetchOut = false;
      n.fetchToken++;
      this.queue.push(this.now, { kind: 'fetch', node: n.id, incarnation: n.incarnation });
    }
  }

  private register(n: SimNode): void {
    const brokerEpoch = this.nextBrokerEpoch++;
    this.applyRecords(
      [
        {
          type: 'RegisterBroker',
          nodeId: n.id,
          incarnationId: `i${n.id}-${n.incarnation}`,
          listeners: [],
          rack: null,
          brokerEpoch,
          fenced: true,
        },
      ],
      `broker ${n.id} registers`,
    );
    this.queue.push(this.now + this.rng.int(5, 40), { kind: 'unfence', node: n.id, brokerEpoch });
  }

  private fence(id: number, brokerEpoch: number): void {
    const b = this.image.brokers.get(id);
    if (!b || b.brokerEpoch !== brokerEpoch || b.fenced) return;
    let changes = this.image.partitionChangesWithout(id, 'fence');
    if (this.bugs.electOutsideIsr) changes = this.electAnyLiveReplica(id, changes);
    this.applyRecords([...changes, { type: 'FenceBroker', nodeId: id, brokerEpoch }], `fence ${id}`);
  }

  /** The planted bug: the first live replica in replica order leads, in the ISR or not. */
  private electAnyLiveReplica(id: number, changes: PartitionChangeRecord[]): PartitionChangeRecord[] {
    const s = this.state();
    if (s.leader !== id) return changes;
    const leader = s.replicas.find((r) => r !== id && this.image.canLead(r));
    if (leader === undefined) return changes;
    const isr = s.isr.filter((r) => r !== id);
    if (!isr.includes(leader)) isr.push(leader);
    return [{ type: 'PartitionChange', topicId: TOPIC_ID, partition: 0, leader, isr }];
  }

  private unfence(id: number, brokerEpoch: number): void {
    const n = this.nodes.get(id)!;
    const b = this.image.brokers.get(id);
    if (!b || b.brokerEpoch !== brokerEpoch || !b.fenced || !n.alive) return;
    if (this.linkCut(CONTROLLER, id)) {
      this.queue.push(this.now + this.rng.int(20, 100), { kind: 'unfence', node: id, brokerEpoch });
      return;
    }
    this.applyRecords(
      [...this.image.partitionChangesElectingLeaderless(id), { type: 'UnfenceBroker', nodeId: id, brokerEpoch }],
      `unfence ${id}`,
    );
  }

  /** Live brokers the controller fenced while they ran (cut from it) come back once they reach it. */
  private unfenceLive(): void {
    for (const n of this.nodes.values()) {
      const b = this.image.brokers.get(n.id);
      if (n.alive && b?.fenced && !this.linkCut(CONTROLLER, n.id))
        this.queue.push(this.now + this.rng.int(1, 20), { kind: 'unfence', node: n.id, brokerEpoch: b.brokerEpoch });
      if (n.alive) this.queue.push(this.now, { kind: 'metadata', node: n.id, incarnation: n.incarnation });
    }
  }

  // ---- ISR changes (the leader asks, the controller decides) -----------------------

  private maybeExpand(n: SimNode, p: Partition): void {
    const add = p.caughtUpReplicas();
    if (add.length === 0) return;
    this.askAlter(n, p, [...p.isr, ...add.filter((id) => !p.isr.includes(id))], 'expand');
  }

  private maybeShrink(n: SimNode): void {
    const p = n.part;
    if (p?.role !== 'leader') return;
    const lagging = p.laggingReplicas(this.lagMaxMs);
    if (lagging.length > 0)
      this.askAlter(
        n,
        p,
        p.isr.filter((id) => !lagging.includes(id)),
        'shrink',
      );
    else if (p.caughtUpReplicas().length > 0) this.maybeExpand(n, p);
  }

  private askAlter(n: SimNode, p: Partition, newIsr: number[], why: string): void {
    if (n.alterInFlight || p.role !== 'leader') return;
    const b = this.image.brokers.get(n.id);
    n.alterInFlight = true;
    if (!this.bugs.noMaximalIsr) p.isrChangeProposed(newIsr);
    this.log(`broker ${n.id} asks to ${why} the isr [${p.isr}] -> [${newIsr}]`);
    this.send(n.id, CONTROLLER, {
      kind: 'alterReq',
      from: n.id,
      incarnation: n.incarnation,
      brokerEpoch: b?.brokerEpoch ?? -1,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      newIsr,
    });
    // an unanswered request is asked again later (IsrChanges retries at its next check)
    this.queue.push(this.now + 4 * this.maxDelay + 20, {
      kind: 'alterTimeout',
      node: n.id,
      incarnation: n.incarnation,
      token: ++n.alterToken,
    });
  }

  private onAlterPartition(req: AlterReq): void {
    const reg = this.image.brokers.get(req.from);
    let code: number = ErrorCode.NONE;
    if (!reg || reg.brokerEpoch !== req.brokerEpoch) code = ErrorCode.STALE_BROKER_EPOCH;
    else
      code = checkAlterPartition(this.image, req.from, {
        topicId: TOPIC_ID,
        partitionIndex: 0,
        leaderEpoch: req.leaderEpoch,
        partitionEpoch: req.partitionEpoch,
        newIsr: req.newIsr.map((id) => ({ brokerId: id, brokerEpoch: this.image.brokers.get(id)?.brokerEpoch ?? -1 })),
      });
    const s = this.state();
    const same = s.isr.length === req.newIsr.length && s.isr.every((id) => req.newIsr.includes(id));
    this.log(
      `controller: AlterPartition from ${req.from} [${req.newIsr}]: ${code === ErrorCode.NONE ? 'ok' : `error ${code}`}`,
    );
    if (code === ErrorCode.NONE && !same) {
      this.isrChanges++;
      this.applyRecords(
        [{ type: 'PartitionChange', topicId: TOPIC_ID, partition: 0, isr: [...req.newIsr] }],
        `isr change asked by ${req.from}`,
      );
    }
    const now = this.state();
    this.send(CONTROLLER, req.from, {
      kind: 'alterRes',
      to: req.from,
      incarnation: req.incarnation,
      answer:
        code === ErrorCode.STALE_BROKER_EPOCH
          ? undefined
          : { leaderEpoch: now.leaderEpoch, isr: [...now.isr], partitionEpoch: now.partitionEpoch },
    });
  }

  // ---- replication ------------------------------------------------------------------

  /** The follower's fetch loop: fsync what it appended, then send its (durable) fetch offset. */
  private fetch(n: SimNode): void {
    const p = n.part!;
    const log = n.log!;
    if (n.fetchOut) return;
    if (p.role !== 'follower' || p.leaderId < 0) {
      this.queue.push(this.now + this.rng.int(5, 20), { kind: 'fetch', node: n.id, incarnation: n.incarnation });
      return;
    }
    n.fetchOut = true;
    const token = ++n.fetchToken;
    const inc = n.incarnation;
    const go = () => {
      if (!this.nodeUp(n.id, inc) || n.fetchToken !== token) return;
      const leaderEpoch = p.leaderEpoch;
      const fetchOffset = log.logEndOffset;
      const req: FetchReq = {
        kind: 'fetchReq',
        from: n.id,
        incarnation: inc,
        leaderEpoch,
        fetchOffset,
        lastFetchedEpoch: this.bugs.noTruncateOnDivergence ? -1 : log.latestEpoch,
        maxBytes: this.rng.pick([100, 400, 1 << 20]),
      };
      this.send(n.id, p.leaderId, req);
      this.queue.push(this.now + 4 * this.maxDelay + 30, { kind: 'fetchTimeout', node: n.id, incarnation: inc, token });
    };
    if (log.recoveryPoint < log.logEndOffset && !this.bugs.followerReportsUnfsynced) {
      log.flushedUpTo(log.logEndOffset).then(go, () => {
        if (!this.nodeUp(n.id, inc) || n.fetchToken !== token) return;
        n.fetchOut = false;
        this.queue.push(this.now + 50, { kind: 'fetch', node: n.id, incarnation: inc });
      });
    } else go();
  }

  /** The leader's side (the Fetch handler's rules for a follower). */
  private onFetchRequest(to: number, req: FetchReq): void {
    const n = this.nodes.get(to)!;
    if (!n.alive || !n.part) return;
    const p = n.part;
    const res: FetchRes = {
      kind: 'fetchRes',
      to: req.from,
      incarnation: req.incarnation,
      leaderEpoch: req.leaderEpoch,
      fetchOffset: req.fetchOffset,
      errorCode: p.checkFollowerFetch(req.from, req.leaderEpoch),
      highWatermark: -1,
      records: null,
      lastFetchedEpoch: req.lastFetchedEpoch,
      leaderEpochs: epochsOf(n.log!),
    };
    if (res.errorCode === ErrorCode.NONE) {
      const diverging = acceptFollowerFetch(p, req.from, req.fetchOffset, req.lastFetchedEpoch);
      res.highWatermark = p.highWatermark;
      if (diverging) res.divergingEpoch = diverging;
      else {
        try {
          const r = n.log!.read(req.fetchOffset, req.maxBytes, { maxOffset: n.log!.logEndOffset, minOneBatch: true });
          res.records = r.batches.length ? Buffer.concat(r.batches) : null;
        } catch (err) {
          if (!(err instanceof OffsetOutOfRangeError)) throw err;
          res.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
        }
      }
    }
    this.send(to, req.from, res);
  }

  private onFetchResponse(res: FetchRes): void {
    const n = this.nodeUp(res.to, res.incarnation);
    if (!n?.fetchOut) return;
    const p = n.part!;
    const log = n.log!;
    n.fetchOut = false;
    n.fetchToken++;
    const again = (delay: number): void => {
      this.queue.push(this.now + delay, { kind: 'fetch', node: n.id, incarnation: n.incarnation });
    };
    // the partition moved on while the fetch was out: ask again
    if (p.role !== 'follower' || p.leaderEpoch !== res.leaderEpoch || log.logEndOffset !== res.fetchOffset) {
      again(0);
      return;
    }
    if (res.errorCode !== ErrorCode.NONE) {
      this.log(`broker ${n.id}: fetch answered error ${res.errorCode}`);
      again(this.rng.int(10, 50));
      return;
    }
    const before = log.logEndOffset;
    let step: ReturnType<typeof applyFetchedPartition>;
    try {
      step = applyFetchedPartition(p, res);
    } catch (err) {
      // as the fetcher's localFailure: the partition backs off (nothing was appended)
      if (!(err instanceof CorruptRecordError)) throw err;
      this.log(`broker ${n.id} cannot append the leader's batches: ${err.message}`);
      again(this.rng.int(10, 50));
      return;
    }
    if (step === 'truncated') {
      this.truncations++;
      n.ackedChecked = 0;
      n.committedChecked = 0;
      this.log(
        `broker ${n.id} truncates ${before} -> ${log.logEndOffset} (diverging epoch ${res.divergingEpoch?.epoch} ` +
          `ending ${res.divergingEpoch?.endOffset}; epochs here ${epochsOf(log)}, last fetched ${res.lastFetchedEpoch}; leader's ${res.leaderEpochs})`,
      );
      again(0);
      return;
    }
    if (step === 'appended') {
      this.log(`broker ${n.id} appends ${before} -> ${log.logEndOffset}, hw ${log.highWatermark}`);
      again(0);
      return;
    }
    again(this.rng.int(1, 20)); // caught up: the leader's long poll
  }

  // ---- the client -------------------------------------------------------------------

  private produce(): void {
    const seq = ++this.produceSeq;
    const leader = this.state().leader;
    const to = leader >= 0 && this.rng.chance(0.85) ? leader : this.rng.pick(IDS);
    this.inFlightProduces.set(seq, to);
    this.send(CONTROLLER, to, { kind: 'produceReq', to, seq });
  }

  private onProduceRequest(req: ProduceReq): void {
    const n = this.nodes.get(req.to)!;
    if (!n.alive || !n.part) return;
    const p = n.part;
    const inc = n.incarnation;
    const code = p.checkAppend(-1);
    if (code !== ErrorCode.NONE) {
      this.send(req.to, CONTROLLER, {
        kind: 'produceRes',
        seq: req.seq,
        errorCode: code,
        offset: -1,
        bytes: Buffer.alloc(0),
      });
      return;
    }
    const count = this.rng.int(1, 3);
    const batch = makeBatch(
      Array.from({ length: count }, (_, i) => ({ key: null, value: `r${req.seq}.${i}` })),
      { timestamp: 1_700_000_000_000 + this.now },
    );
    const info = p.appendAsLeader(batch);
    const stored = Buffer.from(batch); // as the log holds it: offsets and leader epoch stamped
    this.log(
      `broker ${n.id} appends produce ${req.seq} at ${info.firstOffset}..${info.lastOffset} (epoch ${p.leaderEpoch})`,
    );
    p.waitForAcks(info.lastOffset + 1).then(
      (errorCode) => {
        if (!this.nodeUp(n.id, inc)) return;
        this.send(n.id, CONTROLLER, {
          kind: 'produceRes',
          seq: req.seq,
          errorCode,
          offset: info.firstOffset,
          bytes: stored,
        });
      },
      () => {},
    );
  }

  private onProduceResponse(res: ProduceRes): void {
    if (!this.inFlightProduces.delete(res.seq)) return;
    if (res.errorCode !== ErrorCode.NONE) {
      this.log(`produce ${res.seq} failed: error ${res.errorCode}`);
      return;
    }
    this.log(`produce ${res.seq} acknowledged at ${res.offset}`);
    this.acked.push({ seq: res.seq, offset: res.offset, bytes: res.bytes });
  }

  // ---- faults -----------------------------------------------------------------------

  private fault(): void {
    const kinds = Object.keys(this.weights);
    const total = kinds.reduce((s, k) => s + this.weights[k], 0);
    let r = this.rng.next() * total;
    let kind = 'quiet';
    for (const k of kinds) {
      r -= this.weights[k];
      if (r < 0) {
        kind = k;
        break;
      }
    }
    const up = IDS.filter((id) => this.nodes.get(id)!.alive);
    switch (kind) {
      case 'crash':
        if (up.length > 0) this.crash(this.rng.pick(up));
        return;
      case 'crashLeader': {
        const l = this.state().leader;
        if (l >= 0 && this.nodes.get(l)!.alive) this.crash(l);
        return;
      }
      case 'crashTwo':
        for (const id of up.filter(() => this.rng.chance(0.67)).slice(0, 2)) this.crash(id);
        return;
      case 'isolate': {
        // cut from the controller (and maybe from the other brokers) for a while: fenced while it runs
        const id = this.rng.pick(IDS);
        this.cut.add(`${CONTROLLER}-${id}`);
        if (this.rng.chance(0.5))
          for (const o of IDS) if (o !== id) this.cut.add(`${Math.min(o, id)}-${Math.max(o, id)}`);
        this.log(`broker ${id} isolated: cut [${[...this.cut]}]`);
        const b = this.image.brokers.get(id);
        if (b && !b.fenced)
          this.queue.push(this.now + this.rng.int(10, 60), { kind: 'fence', node: id, brokerEpoch: b.brokerEpoch });
        this.queue.push(this.now + this.rng.int(50, 600), { kind: 'healLinks' });
        return;
      }
      case 'cutLink': {
        const a = this.rng.pick(IDS);
        const b = this.rng.pick(IDS.filter((x) => x !== a));
        this.cut.add(`${Math.min(a, b)}-${Math.max(a, b)}`);
        this.log(`link ${a}-${b} cut`);
        this.queue.push(this.now + this.rng.int(50, 600), { kind: 'healLinks' });
        return;
      }
      case 'slowDisk': {
        const n = this.nodes.get(this.rng.pick(IDS))!;
        n.slowDiskUntil = this.now + this.rng.int(50, 400);
        this.log(`broker ${n.id}: slow disk until ${n.slowDiskUntil}`);
        return;
      }
    }
  }

  /**
   * A power loss: the broker stops; its log keeps what was fsynced (its
   * recovery point) and, at random, some of what was not (whole batches,
   * then maybe a torn one); files are cut, never rewritten.
   */
  private crash(id: number): void {
    const n = this.nodes.get(id)!;
    if (!n.alive || !n.log) return;
    this.crashes++;
    const log = n.log;
    const rp = log.recoveryPoint;
    const leo = log.logEndOffset;
    const keepExtra = this.rng.pick([0, 0, 0, 1, 2]);
    const torn = this.rng.chance(0.3);
    log.abandon();
    n.alive = false;
    n.log = null;
    n.part = null;
    n.fsyncs = [];
    n.fsyncScheduled = false;
    const kept = cutLogFiles(n.dir, rp, keepExtra, torn ? this.rng.int(1, 60) : 0);
    this.log(`broker ${id} crashes: log end ${leo}, recovery point ${rp}, ${kept} survives on disk`);
    const b = this.image.brokers.get(id);
    if (b && !b.fenced)
      this.queue.push(this.now + this.rng.int(10, 80), { kind: 'fence', node: id, brokerEpoch: b.brokerEpoch });
    this.queue.push(this.now + this.rng.int(20, 500), { kind: 'restart', node: id });
  }

  private endFaults(): void {
    this.faultsOn = false;
    this.healSeq = this.produceSeq;
    this.log('faults end: healing');
    this.cut.clear();
    for (const n of this.nodes.values()) {
      n.slowDiskUntil = 0;
      if (!n.alive) this.queue.push(this.now + 1, { kind: 'restart', node: n.id });
    }
    this.unfenceLive();
    // a last produce must be acknowledged after the healing
    this.queue.push(this.now + 50, { kind: 'produce' });
    for (let t = 200; t < this.healMs; t += 200) this.queue.push(this.now + t, { kind: 'produce' });
  }

  // ---- invariants -------------------------------------------------------------------

  private check(): void {
    const s = this.state();
    for (const n of this.nodes.values()) {
      if (!n.alive || !n.part || !n.log) continue;
      const p = n.part;
      const log = n.log;
      if (log.highWatermark > log.logEndOffset)
        this.fail(`broker ${n.id}: high watermark ${log.highWatermark} above log end offset ${log.logEndOffset}`);
      if (p.role === 'leader') {
        if (n.leaderHw.epoch === p.leaderEpoch && log.highWatermark < n.leaderHw.hw)
          this.fail(
            `broker ${n.id}: leader high watermark went back from ${n.leaderHw.hw} to ${log.highWatermark} in epoch ${p.leaderEpoch}`,
          );
        n.leaderHw = { epoch: p.leaderEpoch, hw: log.highWatermark };
      }
    }
    const leader = s.leader >= 0 ? this.nodes.get(s.leader)! : undefined;
    const confirmed =
      leader?.alive && leader.part?.role === 'leader' && leader.part.leaderEpoch === s.leaderEpoch ? leader : undefined;
    if (confirmed) {
      const log = confirmed.log!;
      const p = confirmed.part!;
      // every acknowledged record is in this leader's log, at its offset
      for (; confirmed.ackedChecked < this.acked.length; confirmed.ackedChecked++) {
        const a = this.acked[confirmed.ackedChecked];
        const got = batchAt(log, a.offset);
        if (!got?.equals(a.bytes))
          this.fail(
            `acknowledged produce ${a.seq} at offset ${a.offset} is ${got ? 'different' : 'missing'} on leader ${confirmed.id} (epoch ${s.leaderEpoch}, log end ${log.logEndOffset})`,
          );
      }
      // every durably committed batch too
      this.forCommitted(confirmed, 'leader', this.committedEnd);
      // what this leader commits durably now: below its high watermark and fsynced, its ISR large enough
      const durable = Math.min(log.highWatermark, log.recoveryPoint);
      if (p.isr.length >= MIN_ISR && durable > this.committedEnd) {
        const found: number[] = [];
        let end = this.committedEnd;
        log.forEachBatchHeader(this.committedEnd, (buf, at) => {
          const base = hdr.baseOffset(buf, at);
          const last = hdr.lastOffset(buf, at);
          if (last >= durable) return false;
          if (base >= this.committedEnd) found.push(base);
          end = last + 1;
        });
        for (const base of found) this.committed.set(base, batchAt(log, base)!);
        this.committedEnd = end;
      }
    }
    // ISR members agree with the committed batches below their own high watermark
    for (const id of s.isr) {
      const n = this.nodes.get(id)!;
      if (!n.alive || !n.log) continue;
      this.forCommitted(n, 'isr member', Math.min(n.log.highWatermark, this.committedEnd));
    }
  }

  /**
   * Checks that node `n`'s log holds every committed batch below `end`,
   * byte for byte (from where it was checked last: a log changes below its
   * end only by truncating, which restarts the check).
   */
  private forCommitted(n: SimNode, what: string, end: number): void {
    const log = n.log!;
    let at = n.committedChecked;
    while (at < end) {
      const bytes = this.committed.get(at);
      if (!bytes) this.fail(`no committed batch starts at ${at} (simulator bookkeeping)`);
      const got = batchAt(log, at);
      if (!got?.equals(bytes))
        this.fail(
          `committed batch at ${at} is ${got ? 'different' : 'missing'} on ${what} ${n.id} (log end ${log.logEndOffset}, hw ${log.highWatermark})`,
        );
      at = hdr.lastOffset(bytes, 0) + 1;
    }
    n.committedChecked = Math.max(n.committedChecked, at);
  }

  /** After healing: every replica up, identical below one high watermark covering every acknowledged record. */
  private converged(): boolean {
    const s = this.state();
    if (s.leader < 0 || s.isr.length !== IDS.length) return false;
    const leader = this.nodes.get(s.leader)!;
    if (!leader.alive || leader.part?.role !== 'leader') return false;
    const end = leader.log!.logEndOffset;
    const lastAcked = this.acked.length ? this.acked[this.acked.length - 1] : undefined;
    if (!lastAcked || lastAcked.seq <= this.healSeq) return false;
    for (const n of this.nodes.values()) {
      if (!n.alive || !n.log || n.log.logEndOffset !== end || n.log.highWatermark !== end) return false;
    }
    const leaderBytes = readAllBytes(leader.log!);
    for (const n of this.nodes.values()) {
      if (!readAllBytes(n.log!).equals(leaderBytes))
        this.fail(`replica ${n.id} differs from leader ${leader.id} below the high watermark ${end}`);
    }
    this.log(`converged: every replica holds ${end} offsets, ${this.acked.length} acknowledged produces`);
    return true;
  }

  private describeAll(): string {
    const s = this.state();
    const nodes = [...this.nodes.values()].map((n) =>
      n.alive && n.log && n.part
        ? `${n.id}: ${n.part.role} epoch ${n.part.leaderEpoch} leo ${n.log.logEndOffset} hw ${n.log.highWatermark}`
        : `${n.id}: down`,
    );
    return `controller: leader ${s.leader} epoch ${s.leaderEpoch} isr [${s.isr}]; ${nodes.join('; ')}`;
  }
}

function epochsOf(log: PartitionLog): string {
  return [...log.epochStartOffsets].map(([e, o]) => `${e}@${o}`).join(',');
}

/** Lets every promise job run (no real I/O is ever pending here: fsyncs wait for simulated events). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A copy of the whole batch whose base offset is `offset`, or undefined. */
function batchAt(log: PartitionLog, offset: number): Buffer | undefined {
  if (offset < log.logStartOffset || offset >= log.logEndOffset) return undefined;
  const r = log.read(offset, 1, { minOneBatch: true });
  if (r.batches.length === 0) return undefined;
  const buf = Buffer.concat(r.batches);
  if (hdr.baseOffset(buf, 0) !== offset) return undefined;
  return Buffer.from(buf.subarray(0, hdr.totalSize(buf, 0)));
}

function readAllBytes(log: PartitionLog): Buffer {
  const parts: Buffer[] = [];
  let at = log.logStartOffset;
  while (at < log.logEndOffset) {
    const r = log.read(at, 1 << 20, { minOneBatch: true });
    if (r.batches.length === 0) break;
    const buf = Buffer.concat(r.batches);
    parts.push(buf);
    let pos = 0;
    while (pos + 61 <= buf.length) {
      at = hdr.lastOffset(buf, pos) + 1;
      pos += hdr.totalSize(buf, pos);
    }
  }
  return Buffer.concat(parts);
}

/**
 * Cuts the segment files in `dir` as a power loss leaves them: every batch
 * below `recoveryPoint` stays (it was fsynced), then `extraBatches` more
 * whole batches, then `tornBytes` of the next one; later segments go.
 * Returns a description of what survives.
 */
function cutLogFiles(dir: string, recoveryPoint: number, extraBatches: number, tornBytes: number): string {
  const logs = fs
    .readdirSync(dir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .sort();
  let extra = extraBatches;
  let cutAt: number | undefined;
  for (const f of logs) {
    const file = path.join(dir, f);
    if (cutAt !== undefined) {
      const stem = file.slice(0, -'.log'.length);
      for (const x of ['.log', '.index', '.timeindex']) fs.rmSync(stem + x, { force: true });
      continue;
    }
    const buf = fs.readFileSync(file);
    let pos = 0;
    let keep = buf.length;
    while (pos + 61 <= buf.length) {
      const size = hdr.totalSize(buf, pos);
      if (pos + size > buf.length) break;
      const base = hdr.baseOffset(buf, pos);
      if (base >= recoveryPoint) {
        if (extra > 0) extra--;
        else {
          keep = Math.min(buf.length, pos + tornBytes);
          cutAt = base;
          break;
        }
      }
      pos += size;
    }
    if (keep < buf.length) fs.truncateSync(file, keep);
  }
  return cutAt === undefined ? 'everything' : `offsets below ${cutAt}`;
}

/** The planted bug: the high watermark follows the furthest follower, ISR or not. */
function plantHwFromAnyReplica(part: Partition): void {
  const self = part as unknown as {
    followerEnds: Map<number, number>;
    _role: string;
    wake(): void;
    tryCompleteAcks(): void;
  };
  part.maybeAdvanceHighWatermark = () => {
    if (self._role !== 'leader') return false;
    let best = -1;
    for (const end of self.followerEnds.values()) if (end > best) best = end;
    const hw = Math.min(best, part.log.logEndOffset);
    if (hw <= part.log.highWatermark) return false;
    part.log.setHighWatermark(hw);
    self.wake();
    self.tryCompleteAcks();
    return true;
  };
}
