/**
 * The deterministic simulator: N Raft cores (3 or 5 voters, maybe observers)
 * in one process, driven from one seed through a simulated network
 * (network.ts), simulated disks that keep only what was fsynced on a power
 * loss (memory-log.ts) and a simulated clock. A workload proposes entries on
 * whichever node leads; faults (crashes, graceful resignations, partitions
 * both ways and one way, lossy and duplicating links, slow fsyncs, snapshots
 * that trim the logs) come at random. After every step it checks:
 *
 * - at most one leader per epoch;
 * - one vote per node per epoch, across restarts;
 * - log matching: a batch at one (offset, epoch) has the same prefix on every
 *   node, and a follower only appends after a prefix equal to the leader's;
 * - committed entries never change: every node's committed prefix (below its
 *   high watermark, snapshots included) agrees with a global record;
 * - leader completeness: the newest leader holds every committed entry;
 * - each node's high watermark never goes back (within a run of its process).
 *
 * Then it heals everything and checks liveness: within a bound of simulated
 * time a leader is elected, an entry proposed after the healing commits,
 * and every node's high watermark reaches it.
 */
import { RaftCore } from '../../src/raft/core.ts';
import type { NodeId, RaftAction, RaftConfig, RaftRequest, RaftResponse, RaftUnsafe } from '../../src/raft/types.ts';
import { MemoryLog, MemoryStore, type SimBatch, type SimChunk } from './memory-log.ts';
import { calmNetwork, EventQueue, Links, type NetworkFaults, Rng } from './network.ts';

export interface SimOptions {
  seed: number;
  /** Planted bugs passed to every core (the tests prove some seed then fails). */
  bugs?: RaftUnsafe;
  /** Receives one line per event and state change (the replay's `--verbose`). */
  trace?: (line: string) => void;
  /** Overrides of what the seed draws. */
  voters?: number;
  observers?: number;
  /** Simulated time with faults, then the bound for recovery after healing. */
  faultMs?: number;
  livenessMs?: number;
  /** Mean gap between faults (ms), and the Fetch / FetchSnapshot size limit. */
  faultEveryMs?: number;
  fetchMaxBytes?: number;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  failure?: string;
  /** Simulated time of the failure. */
  failedAt?: number;
  scenario: string;
  steps: number;
  simulatedMs: number;
  committedOffset: number;
  leaderEpochs: number;
  crashes: number;
  snapshotsInstalled: number;
  /** Simulated time from the healing to an entry committed on every node. */
  recoveryMs: number;
}

class SimFailure extends Error {}

interface Wire {
  from: NodeId;
  to: NodeId;
  key: number;
  request?: RaftRequest;
  response?: RaftResponse<SimChunk>;
  /** A response copy delivered even if its request was answered already. */
  forced?: boolean;
}

const FAULT_KINDS = [
  'crashOne',
  'crashLeader',
  'crashMany',
  'resign',
  'partition',
  'cut',
  'slowDisk',
  'quiet',
] as const;
type FaultKind = (typeof FAULT_KINDS)[number];

type SimEvent =
  | { kind: 'message'; wire: Wire }
  | { kind: 'tick'; node: NodeId; token: number }
  | { kind: 'flushDone'; node: NodeId; incarnation: number; seq: number }
  | { kind: 'requestTimeout'; key: number }
  | { kind: 'fault' }
  | { kind: 'restart'; node: NodeId }
  | { kind: 'stop'; node: NodeId; incarnation: number }
  | { kind: 'healLinks' }
  | { kind: 'propose' }
  | { kind: 'endFaults' };

interface PendingRequest {
  from: NodeId;
  fromIncarnation: number;
  to: NodeId;
  request: RaftRequest;
  answered: boolean;
}

interface SimNode {
  id: NodeId;
  voter: boolean;
  log: MemoryLog;
  store: MemoryStore;
  config: RaftConfig;
  core: RaftCore<SimChunk> | null;
  incarnation: number;
  tickToken: number;
  tickAt: number;
  /** High watermark last seen in this incarnation, and how far its committed prefix was checked. */
  hw: number;
  checkedHw: number;
  /** Requests delivered to this node: the core's requestId → the network's key. */
  inbound: Map<number, number>;
  nextRequestId: number;
  wasLeader: boolean;
  /** Fsyncs started before this time are slow (a stalled disk). */
  diskSlowUntil: number;
}

const encoder = new TextEncoder();

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

class Simulation {
  private readonly rng: Rng;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly links = new Links();
  private readonly nodes: SimNode[] = [];
  private readonly ids: NodeId[];
  private readonly trace: ((line: string) => void) | undefined;
  private now = 0;
  private steps = 0;
  private faults: NetworkFaults;
  private readonly flushMaxMs: number;
  private readonly requestTimeoutMs: number;
  private readonly faultEveryMs: number;
  private readonly faultWeights: Record<FaultKind, number>;
  private readonly restartMaxMs: number;
  private readonly snapshotEvery: number;
  private readonly proposeEveryMs: number;
  private readonly faultMs: number;
  private readonly livenessMs: number;
  private readonly scenario: string;

  private readonly pending = new Map<number, PendingRequest>();
  private requestSeq = 0;
  private proposalSeq = 0;

  // what the checks remember
  private readonly leaderOf = new Map<number, NodeId>();
  private newestLeaderEpoch = -1;
  private readonly votes = new Map<string, NodeId>();
  private readonly batchHashes = new Map<string, number>();
  private readonly committed = new Map<number, number>();
  private committedEnd = 0;
  private crashes = 0;
  private snapshotsInstalled = 0;

  // the liveness phase
  private healedAt = Number.POSITIVE_INFINITY;
  /** Log end after an entry proposed since the healing, on the leader and epoch that proposed it. */
  private target: { node: NodeId; epoch: number; end: number } | null = null;
  private live = false;

  constructor(private readonly options: SimOptions) {
    const rng = (this.rng = new Rng(options.seed));
    this.trace = options.trace;
    const voters = options.voters ?? (rng.chance(0.5) ? 3 : 5);
    const observers = options.observers ?? (rng.chance(0.3) ? 1 : 0);
    this.faults = {
      drop: rng.pick([0, 0, 0.01, 0.05, 0.15]),
      duplicate: rng.pick([0, 0.02, 0.1]),
      minDelayMs: 1,
      maxDelayMs: rng.pick([3, 10, 30]),
      slow: rng.pick([0, 0.02, 0.1]),
      slowDelayMs: 150,
      duplicateResponses: rng.chance(0.3),
    };
    this.flushMaxMs = rng.pick([2, 10, 40]);
    this.faultEveryMs = options.faultEveryMs ?? rng.pick([40, 120, 400]);
    const weights = {} as Record<FaultKind, number>;
    for (const k of FAULT_KINDS) weights[k] = k === 'quiet' ? 1 : rng.chance(0.6) ? rng.int(1, 10) : 0;
    this.faultWeights = weights;
    this.restartMaxMs = rng.pick([50, 200, 500]);
    this.snapshotEvery = rng.pick([0, 6, 25]);
    this.proposeEveryMs = rng.pick([4, 12, 40]);
    this.faultMs = options.faultMs ?? 2000;
    this.livenessMs = options.livenessMs ?? 15_000;
    const fetchMaxBytes = options.fetchMaxBytes ?? rng.pick([60, 200, 1000]);
    const timing = {
      electionTimeoutMs: 100,
      fetchTimeoutMs: 200,
      electionBackoffMaxMs: 100,
      fetchMaxWaitMs: 50,
      fetchMaxBytes,
      retryBackoffMs: 5,
    };
    this.requestTimeoutMs = 2 * timing.fetchMaxWaitMs + 2 * (this.faults.maxDelayMs + this.faults.slowDelayMs) + 20;
    this.ids = [];
    for (let i = 1; i <= voters + observers; i++) this.ids.push(i);
    const voterIds = this.ids.slice(0, voters);
    for (const id of this.ids) {
      const nodeRng = rng.fork();
      const log = new MemoryLog({
        snapshotBytes: rng.pick([50, 300]),
        onPrefixMismatch: (message) => this.fail(`log matching on node ${id}: ${message}`),
        onAppend: (b) => this.registerBatch(id, b),
      });
      const config: RaftConfig = {
        nodeId: id,
        voters: voterIds,
        clusterId: 'sim-cluster',
        random: () => nodeRng.next(),
        ...timing,
        ...(options.bugs ? { unsafe: options.bugs } : {}),
      };
      this.nodes[id] = {
        id,
        voter: voterIds.includes(id),
        log,
        store: new MemoryStore(),
        config,
        core: null,
        incarnation: 0,
        tickToken: 0,
        tickAt: Number.NaN,
        hw: -1,
        checkedHw: -1,
        inbound: new Map(),
        nextRequestId: 0,
        wasLeader: false,
        diskSlowUntil: 0,
      };
    }
    this.scenario =
      `voters=${voters} observers=${observers} drop=${this.faults.drop} dup=${this.faults.duplicate} ` +
      `delay<=${this.faults.maxDelayMs} slow=${this.faults.slow} dupResp=${this.faults.duplicateResponses} ` +
      `flush<=${this.flushMaxMs} faultEvery=${this.faultEveryMs} restart<=${this.restartMaxMs} ` +
      `faults=${FAULT_KINDS.filter((k) => weights[k] > 0)
        .map((k) => `${k}:${weights[k]}`)
        .join(',')} ` +
      `snapshotEvery=${this.snapshotEvery} ` +
      `proposeEvery=${this.proposeEveryMs} fetchMaxBytes=${fetchMaxBytes}`;
  }

  run(): SimResult {
    this.log(`seed ${this.options.seed}: ${this.scenario}`);
    try {
      for (const id of this.ids) this.start(this.nodes[id]!);
      this.queue.push(this.rng.int(0, this.faultEveryMs), { kind: 'fault' });
      this.queue.push(0, { kind: 'propose' });
      this.queue.push(this.faultMs, { kind: 'endFaults' });
      const deadline = this.faultMs + this.livenessMs;
      while (!this.live) {
        const next = this.queue.pop();
        if (!next) throw new SimFailure('the event queue ran dry');
        if (next.at > deadline) {
          throw new SimFailure(`no recovery within ${this.livenessMs} ms of healing: ${this.describeNodes()}`);
        }
        this.now = Math.max(this.now, next.at);
        this.steps++;
        this.step(next.event);
        this.checkLeaderCompleteness();
        if (this.now >= this.healedAt) this.checkLiveness();
      }
      this.finalChecks();
      return this.result(true);
    } catch (e) {
      const message = e instanceof SimFailure ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
      this.log(`FAILED at ${this.now}: ${message}`);
      return { ...this.result(false), failure: message, failedAt: this.now };
    }
  }

  private result(ok: boolean): SimResult {
    return {
      seed: this.options.seed,
      ok,
      scenario: this.scenario,
      steps: this.steps,
      simulatedMs: this.now,
      committedOffset: this.committedEnd,
      leaderEpochs: this.leaderOf.size,
      crashes: this.crashes,
      snapshotsInstalled: this.snapshotsInstalled,
      recoveryMs: ok ? this.now - this.healedAt : -1,
    };
  }

  private fail(message: string): never {
    throw new SimFailure(message);
  }

  private log(line: string): void {
    this.trace?.(line);
  }

  // ---- nodes

  private start(n: SimNode): void {
    n.incarnation++;
    n.core = new RaftCore(n.config, n.log, n.store, this.now);
    n.hw = -1;
    n.checkedHw = -1;
    n.inbound.clear();
    n.wasLeader = false;
    this.log(`t=${this.now} start ${n.core.describe()}`);
    this.handle(n, { type: 'tick', now: this.now });
  }

  /** Power loss: only what was fsynced survives (and the quorum state, written synchronously). */
  private crash(n: SimNode): void {
    if (!n.core) return;
    this.crashes++;
    n.core = null;
    n.log.crash();
    n.tickToken++;
    n.tickAt = Number.NaN;
    this.log(`t=${this.now} crash ${n.id} (log end ${n.log.endOffset})`);
  }

  private handle(n: SimNode, event: Parameters<RaftCore<SimChunk>['handle']>[0]): void {
    this.apply(n, n.core!.handle(event));
  }

  private apply(n: SimNode, actions: RaftAction<SimChunk>[]): void {
    for (const a of actions) {
      if (!n.core) return;
      switch (a.type) {
        case 'send':
          this.sendRequest(n, a.to, a.request);
          break;
        case 'respond':
          this.sendResponse(n, a.to, a.requestId, a.response);
          break;
        case 'flush': {
          const seq = n.log.beginFlush();
          const incarnation = n.incarnation;
          this.queue.push(this.now + this.flushDelay(n), { kind: 'flushDone', node: n.id, incarnation, seq });
          break;
        }
        case 'commit':
          this.onCommit(n, a.highWatermark);
          break;
        case 'leaderChange':
          this.log(`t=${this.now} ${n.id} leaderChange epoch ${a.epoch} leader ${a.leaderId}`);
          break;
        case 'snapshotInstalled':
          this.snapshotsInstalled++;
          this.log(`t=${this.now} ${n.id} snapshotInstalled ${a.id.offset}/${a.id.epoch}`);
          this.checkSnapshot(n);
          break;
        case 'inconsistentCluster':
          this.fail(`node ${n.id} saw another cluster at node ${a.peer}`);
      }
    }
    this.afterHandle(n);
  }

  /** The checks about one node after its core ran, and its next tick. */
  private afterHandle(n: SimNode): void {
    const core = n.core;
    if (!core) return;
    if (core.role === 'leader') {
      const other = this.leaderOf.get(core.epoch);
      if (other !== undefined && other !== n.id) this.fail(`two leaders in epoch ${core.epoch}: ${other} and ${n.id}`);
      this.leaderOf.set(core.epoch, n.id);
      if (!n.wasLeader) {
        this.log(`t=${this.now} ${n.id} LEADER epoch ${core.epoch} ${core.describe()}`);
        // Raft's leader completeness is about entries of earlier epochs: a leader of an older epoch
        // elected late (its votes delayed) need not hold what a newer epoch has committed since
        if (core.epoch >= this.newestLeaderEpoch) this.checkCompleteness(n);
      }
      if (core.epoch > this.newestLeaderEpoch) this.newestLeaderEpoch = core.epoch;
    }
    n.wasLeader = core.role === 'leader';
    if (core.highWatermark < n.hw)
      this.fail(`node ${n.id}: high watermark went back from ${n.hw} to ${core.highWatermark}`);
    n.hw = core.highWatermark;
    const at = core.nextDeadline();
    if (at !== n.tickAt) {
      n.tickAt = at;
      this.queue.push(Math.max(at, this.now), { kind: 'tick', node: n.id, token: ++n.tickToken });
    }
  }

  // ---- events

  private step(event: SimEvent): void {
    switch (event.kind) {
      case 'message':
        this.deliver(event.wire);
        break;
      case 'tick': {
        const n = this.nodes[event.node]!;
        if (!n.core || event.token !== n.tickToken) return;
        n.tickAt = Number.NaN;
        this.handle(n, { type: 'tick', now: this.now });
        if (n.core && n.core.nextDeadline() <= this.now) {
          this.fail(`node ${n.id} asks for another tick at the same time (a busy loop): ${n.core.describe()}`);
        }
        break;
      }
      case 'flushDone': {
        const n = this.nodes[event.node]!;
        if (!n.core || n.incarnation !== event.incarnation) return;
        n.log.completeFlush(event.seq);
        this.handle(n, { type: 'flushed', now: this.now, durableEndOffset: n.log.durableEndOffset });
        break;
      }
      case 'requestTimeout': {
        const p = this.pending.get(event.key);
        if (!p) return;
        this.pending.delete(event.key);
        if (p.answered) return;
        const n = this.nodes[p.from]!;
        if (n.core && n.incarnation === p.fromIncarnation)
          this.handle(n, { type: 'sendFailed', now: this.now, to: p.to, request: p.request });
        break;
      }
      case 'fault':
        this.injectFault();
        this.queue.push(this.now + this.rng.int(1, 2 * this.faultEveryMs), { kind: 'fault' });
        break;
      case 'restart': {
        const n = this.nodes[event.node]!;
        if (!n.core) this.start(n);
        break;
      }
      case 'stop': {
        const n = this.nodes[event.node]!;
        if (n.core && n.incarnation === event.incarnation) {
          this.crash(n);
          this.queue.push(this.now + this.rng.int(20, 400), { kind: 'restart', node: n.id });
        }
        break;
      }
      case 'healLinks':
        if (this.links.anyCut) this.log(`t=${this.now} heal links`);
        this.links.healAll();
        break;
      case 'propose':
        this.propose();
        this.queue.push(this.now + this.rng.int(1, 2 * this.proposeEveryMs), { kind: 'propose' });
        break;
      case 'endFaults':
        this.healedAt = this.now;
        this.faults = { ...calmNetwork };
        this.links.healAll();
        this.log(`t=${this.now} HEAL: links healed, every node up, calm network`);
        for (const id of this.ids) if (!this.nodes[id]!.core) this.start(this.nodes[id]!);
        break;
    }
  }

  private injectFault(): void {
    if (this.now >= this.faultMs) return;
    const rng = this.rng;
    const up = this.ids.filter((id) => this.nodes[id]!.core);
    const leaders = up.filter((id) => this.nodes[id]!.core!.role === 'leader');
    switch (this.pickFault()) {
      case 'crashOne':
        if (up.length > 0) this.crashAndRestart([rng.pick(up)]);
        break;
      case 'crashLeader':
        // often with fsyncs in flight
        if (leaders.length > 0) this.crashAndRestart([rng.pick(leaders)]);
        break;
      case 'crashMany':
        // a correlated power loss (a rack, the whole cluster)
        this.crashAndRestart(this.shuffled(up).slice(0, rng.int(2, this.ids.length)));
        break;
      case 'resign': {
        // graceful shutdown of the leader: it resigns, then stops
        if (leaders.length === 0) break;
        const n = this.nodes[rng.pick(leaders)]!;
        this.log(`t=${this.now} resign ${n.id}`);
        this.handle(n, { type: 'resign', now: this.now });
        this.queue.push(this.now + rng.int(1, 30), { kind: 'stop', node: n.id, incarnation: n.incarnation });
        break;
      }
      case 'partition': {
        const group = this.shuffled(this.ids).slice(0, rng.int(1, Math.max(1, Math.floor(this.ids.length / 2))));
        this.links.partition(group, this.ids);
        this.log(`t=${this.now} partition ${group.join(',')} | rest`);
        this.queue.push(this.now + rng.int(20, 800), { kind: 'healLinks' });
        break;
      }
      case 'cut': {
        const from = rng.pick(this.ids);
        const to = rng.pick(this.ids.filter((id) => id !== from));
        this.links.cut(from, to);
        this.log(`t=${this.now} cut ${from}>${to}`);
        this.queue.push(this.now + rng.int(20, 800), { kind: 'healLinks' });
        break;
      }
      case 'slowDisk': {
        const n = this.nodes[rng.pick(this.ids)]!;
        n.diskSlowUntil = this.now + rng.int(50, 500);
        this.log(`t=${this.now} slow disk on ${n.id} until ${n.diskSlowUntil}`);
        break;
      }
      case 'quiet':
        break;
    }
  }

  /** Swarm testing: each seed weighs the kinds of fault differently (some not at all). */
  private pickFault(): FaultKind {
    let total = 0;
    for (const k of FAULT_KINDS) total += this.faultWeights[k];
    let r = this.rng.next() * total;
    for (const k of FAULT_KINDS) {
      r -= this.faultWeights[k];
      if (r < 0) return k;
    }
    return 'quiet';
  }

  private flushDelay(n: SimNode): number {
    const d = this.rng.int(1, this.flushMaxMs);
    return this.now < n.diskSlowUntil ? d + this.rng.int(20, 200) : d;
  }

  private crashAndRestart(ids: readonly NodeId[]): void {
    for (const id of ids) {
      this.crash(this.nodes[id]!);
      this.queue.push(this.now + this.rng.int(5, this.restartMaxMs), { kind: 'restart', node: id });
    }
  }

  private shuffled(ids: readonly NodeId[]): NodeId[] {
    const a = [...ids];
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.rng.int(0, i);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }

  private propose(): void {
    // after the healing, one entry at a time: the liveness check waits for it to reach every node
    if (this.now >= this.healedAt && this.target !== null) return;
    const leaders = this.ids.filter((id) => this.nodes[id]!.core?.role === 'leader');
    if (leaders.length === 0) return;
    const n = this.nodes[this.rng.pick(leaders)]!;
    const count = this.rng.int(1, 3);
    const records: Uint8Array[] = [];
    for (let i = 0; i < count; i++) records.push(encoder.encode(`p${++this.proposalSeq}`));
    const result = n.core!.propose(records, this.now);
    if (!result) return;
    this.log(
      `t=${this.now} ${n.id} propose ${result.batch.baseOffset}-${result.batch.lastOffset} epoch ${result.batch.epoch}`,
    );
    if (this.now >= this.healedAt && this.target === null) {
      this.target = { node: n.id, epoch: result.batch.epoch, end: result.batch.lastOffset + 1 };
    }
    this.apply(n, result.actions);
  }

  // ---- the transport

  private sendRequest(n: SimNode, to: NodeId, request: RaftRequest): void {
    const key = ++this.requestSeq;
    this.pending.set(key, { from: n.id, fromIncarnation: n.incarnation, to, request, answered: false });
    if (!this.nodes[to]?.core) {
      // connection refused
      this.queue.push(this.now + this.rng.int(1, 3), { kind: 'requestTimeout', key });
      return;
    }
    this.queue.push(this.now + this.requestTimeoutMs, { kind: 'requestTimeout', key });
    this.transmit({ from: n.id, to, key, request });
  }

  private sendResponse(n: SimNode, to: NodeId, requestId: number, response: RaftResponse<SimChunk>): void {
    const key = n.inbound.get(requestId);
    if (key === undefined) this.fail(`node ${n.id} answered request ${requestId}, which it never received (or twice)`);
    n.inbound.delete(requestId);
    const p = this.pending.get(key);
    if (
      p &&
      response.kind === 'VoteResponse' &&
      response.voteGranted &&
      !response.preVote &&
      p.request.kind === 'Vote'
    ) {
      const k = `${n.id}:${response.leaderEpoch}`;
      const before = this.votes.get(k);
      if (before !== undefined && before !== p.request.candidateId) {
        this.fail(`node ${n.id} voted for ${before} and ${p.request.candidateId} in epoch ${response.leaderEpoch}`);
      }
      this.votes.set(k, p.request.candidateId);
    }
    if (!p) return;
    this.transmit({ from: n.id, to, key, response });
    if (this.faults.duplicateResponses && this.rng.chance(0.05))
      this.transmit({ from: n.id, to, key, response, forced: true });
  }

  private transmit(wire: Wire): void {
    if (!this.links.connected(wire.from, wire.to)) return;
    const copies = this.rng.chance(this.faults.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const d = Links.delay(this.rng, this.faults);
      if (d !== null) this.queue.push(this.now + d, { kind: 'message', wire });
    }
  }

  private deliver(wire: Wire): void {
    if (!this.links.connected(wire.from, wire.to)) return;
    const to = this.nodes[wire.to]!;
    if (!to.core) return;
    if (wire.request) {
      const requestId = ++to.nextRequestId;
      to.inbound.set(requestId, wire.key);
      this.log(`t=${this.now} ${wire.from}->${wire.to} ${describeRequest(wire.request)}`);
      this.handle(to, { type: 'request', now: this.now, from: wire.from, requestId, request: wire.request });
      return;
    }
    const p = this.pending.get(wire.key);
    if (!p || p.fromIncarnation !== to.incarnation) return;
    if (p.answered && !wire.forced) return;
    p.answered = true;
    this.log(`t=${this.now} ${wire.from}->${wire.to} ${describeResponse(wire.response!)}`);
    this.handle(to, { type: 'response', now: this.now, from: wire.from, response: wire.response!, request: p.request });
  }

  // ---- checks

  private registerBatch(node: NodeId, b: SimBatch): void {
    const key = `${b.baseOffset}:${b.epoch}`;
    const known = this.batchHashes.get(key);
    if (known === undefined) this.batchHashes.set(key, b.hash);
    else if (known !== b.hash) {
      this.fail(
        `log matching: node ${node} holds a batch at offset ${b.baseOffset} epoch ${b.epoch} with another prefix`,
      );
    }
  }

  private registerCommitted(node: NodeId, offset: number, hash: number | null): void {
    if (hash === null) this.fail(`node ${node}: committed offset ${offset} is not a batch boundary of its log`);
    const known = this.committed.get(offset);
    if (known === undefined) {
      this.committed.set(offset, hash);
      if (offset > this.committedEnd) this.committedEnd = offset;
    } else if (known !== hash) {
      this.fail(`committed entries changed: node ${node} has another committed prefix ending at ${offset}`);
    }
  }

  /** Records (or checks against the record) every batch boundary of n's newly committed prefix. */
  private onCommit(n: SimNode, hw: number): void {
    const log = n.log;
    const from = n.checkedHw;
    if (log.startOffset > from && log.startOffset <= hw)
      this.registerCommitted(n.id, log.startOffset, log.hashAt(log.startOffset));
    const batches = log.batches;
    for (let i = log.firstIndexFrom(Math.max(from, log.startOffset)); i < batches.length; i++) {
      const end = batches[i]!.lastOffset + 1;
      if (end > hw) break;
      if (end > from) this.registerCommitted(n.id, end, batches[i]!.hash);
    }
    if (log.hashAt(hw) === null && hw > log.startOffset) this.fail(`node ${n.id}: high watermark ${hw} inside a batch`);
    n.checkedHw = hw;
    // the state machine snapshots its committed prefix now and then, trimming the log
    if (this.snapshotEvery > 0 && hw - log.startOffset >= this.snapshotEvery && this.rng.chance(0.5)) {
      log.createSnapshot(hw);
      this.log(`t=${this.now} ${n.id} snapshot at ${hw}`);
    }
  }

  private checkSnapshot(n: SimNode): void {
    const s = n.log.latest!;
    this.registerCommitted(n.id, s.id.offset, s.hash);
  }

  private checkCompleteness(n: SimNode): void {
    const end = this.committedEnd;
    if (end <= 0) return;
    const log = n.log;
    const epoch = n.core!.epoch;
    if (end > log.endOffset) {
      this.fail(
        `leader completeness: leader ${n.id} of epoch ${epoch} lacks committed entries (log end ${log.endOffset}, committed ${end})`,
      );
    }
    if (end >= log.startOffset) {
      if (log.hashAt(end) !== this.committed.get(end)) {
        this.fail(
          `leader completeness: leader ${n.id} of epoch ${epoch} holds other entries below the committed offset ${end}`,
        );
      }
    } else {
      const known = this.committed.get(log.startOffset);
      if (known !== undefined && known !== log.hashAt(log.startOffset)) {
        this.fail(`leader completeness: leader ${n.id} of epoch ${epoch} has a snapshot of other entries`);
      }
    }
  }

  /**
   * The leader of the newest epoch that elected one must hold every committed
   * entry at all times (a deposed leader of an older epoch that has not
   * heard of it yet need not).
   */
  private checkLeaderCompleteness(): void {
    if (this.newestLeaderEpoch < 0) return;
    const n = this.nodes[this.leaderOf.get(this.newestLeaderEpoch)!]!;
    if (n.core?.role === 'leader' && n.core.epoch === this.newestLeaderEpoch) this.checkCompleteness(n);
  }

  private checkLiveness(): void {
    const t = this.target;
    if (!t) return;
    const leader = this.nodes[t.node]!;
    if (leader.core?.role !== 'leader' || leader.core.epoch !== t.epoch) {
      // that leader lost its place before the entry committed: wait for the next proposal
      this.target = null;
      return;
    }
    for (const id of this.ids) {
      const n = this.nodes[id]!;
      if (!n.core || n.core.highWatermark < t.end) return;
    }
    this.log(`t=${this.now} LIVE: offset ${t.end} committed everywhere, ${this.now - this.healedAt} ms after healing`);
    this.live = true;
  }

  private finalChecks(): void {
    for (const id of this.ids) {
      const n = this.nodes[id]!;
      const hw = n.core!.highWatermark;
      for (const b of n.log.batches) {
        const end = b.lastOffset + 1;
        if (end > hw) break;
        if (this.committed.get(end) !== b.hash)
          this.fail(`node ${id}: committed batch ending at ${end} differs at the end`);
      }
    }
    this.checkLeaderCompleteness();
  }

  private describeNodes(): string {
    return this.ids.map((id) => this.nodes[id]!.core?.describe() ?? `${id}:down`).join('; ');
  }
}

function describeRequest(r: RaftRequest): string {
  switch (r.kind) {
    case 'Vote':
      return `${r.preVote ? 'PreVote' : 'Vote'} c${r.candidateId} e${r.candidateEpoch} last(${r.lastOffsetEpoch},${r.lastOffset})`;
    case 'BeginQuorumEpoch':
      return `BeginQuorumEpoch L${r.leaderId} e${r.leaderEpoch}`;
    case 'EndQuorumEpoch':
      return `EndQuorumEpoch L${r.leaderId} e${r.leaderEpoch} successors ${r.preferredSuccessors.join(',')}`;
    case 'Fetch':
      return `Fetch r${r.replicaId} e${r.replicaEpoch} offset ${r.fetchOffset} lastEpoch ${r.lastFetchedEpoch}`;
    case 'FetchSnapshot':
      return `FetchSnapshot r${r.replicaId} e${r.replicaEpoch} ${r.snapshotId.offset}/${r.snapshotId.epoch} @${r.position}`;
  }
}

function describeResponse(r: RaftResponse<SimChunk>): string {
  const head = `${r.kind} err${r.errorCode} L${r.leaderId} e${r.leaderEpoch}`;
  switch (r.kind) {
    case 'VoteResponse':
      return `${head} ${r.preVote ? 'pre' : ''}granted=${r.voteGranted}`;
    case 'FetchResponse': {
      const b = r.records?.batches;
      const recs = b && b.length > 0 ? ` records ${b[0]!.baseOffset}-${b[b.length - 1]!.lastOffset}` : '';
      const div = r.divergingEpoch ? ` diverging ${r.divergingEpoch.offset}/${r.divergingEpoch.epoch}` : '';
      const snap = r.snapshotId ? ` snapshot ${r.snapshotId.offset}/${r.snapshotId.epoch}` : '';
      return `${head} hw${r.highWatermark}${recs}${div}${snap}`;
    }
    case 'FetchSnapshotResponse':
      return `${head} ${r.snapshotId.offset}/${r.snapshotId.epoch} @${r.position} ${r.bytes.length}/${r.size}`;
    default:
      return head;
  }
}
