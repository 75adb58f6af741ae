/**
 * A small hand-driven cluster for the core's unit tests: cores over memory
 * logs, a FIFO "network" the test delivers from explicitly (or until quiet),
 * flushes completed at once unless a node's flushes are held, and a clock
 * the test moves. The randomized fault-injecting simulator is test/sim.
 */
import { RaftCore } from '../../../src/raft/core.ts';
import type { NodeId, RaftAction, RaftConfig, RaftRequest, RaftResponse } from '../../../src/raft/types.ts';
import { MemoryLog, MemoryStore, type SimChunk } from '../../sim/memory-log.ts';

export interface Message {
  from: NodeId;
  to: NodeId;
  request?: RaftRequest;
  requestId?: number;
  response?: RaftResponse<SimChunk>;
  /** For a response: the request it answers. */
  answers?: RaftRequest;
  /** The transport telling `to` that its request `failed` will get no answer. */
  failed?: RaftRequest;
}

export interface HarnessNode {
  id: NodeId;
  core: RaftCore<SimChunk>;
  log: MemoryLog;
  store: MemoryStore;
  config: RaftConfig;
  /** Every action the core returned, in order. */
  actions: RaftAction<SimChunk>[];
  /** Flushes are not completed until `releaseFlush`. */
  holdFlush: boolean;
  pendingFlush: number | null;
  up: boolean;
}

export const defaults = {
  electionTimeoutMs: 1000,
  fetchTimeoutMs: 2000,
  electionBackoffMaxMs: 1000,
  fetchMaxWaitMs: 500,
  fetchMaxBytes: 1024,
  retryBackoffMs: 20,
};

export class Harness {
  now = 0;
  readonly nodes = new Map<NodeId, HarnessNode>();
  queue: Message[] = [];
  private requestSeq = 0;
  private readonly pending = new Map<string, RaftRequest>();
  /** Every message handed to `deliver`, in order. */
  readonly delivered: Message[] = [];
  /** Messages between these (from>to keys) are dropped. */
  readonly cut = new Set<string>();

  constructor(
    readonly voters: NodeId[],
    readonly clusterId: string | null = 'cluster-A',
  ) {}

  add(
    id: NodeId,
    opts: { random?: () => number; log?: MemoryLog; store?: MemoryStore; config?: Partial<RaftConfig> } = {},
  ) {
    const log = opts.log ?? new MemoryLog({ snapshotBytes: 300 });
    const store = opts.store ?? new MemoryStore();
    const config: RaftConfig = {
      nodeId: id,
      voters: this.voters,
      clusterId: this.clusterId,
      random: opts.random ?? (() => 0.5),
      ...defaults,
      ...opts.config,
    };
    const node: HarnessNode = {
      id,
      core: new RaftCore(config, log, store, this.now),
      log,
      store,
      config,
      actions: [],
      holdFlush: false,
      pendingFlush: null,
      up: true,
    };
    this.nodes.set(id, node);
    return node;
  }

  node(id: NodeId): HarnessNode {
    return this.nodes.get(id)!;
  }

  /** Power loss of `id` and a restart with a fresh core over what survived. */
  restart(id: NodeId, random?: () => number): HarnessNode {
    const n = this.node(id);
    n.log.crash();
    n.pendingFlush = null;
    n.core = new RaftCore({ ...n.config, random: random ?? n.config.random }, n.log, n.store, this.now);
    this.queue = this.queue.filter((m) => m.to !== id || m.request !== undefined);
    return n;
  }

  apply(n: HarnessNode, actions: RaftAction<SimChunk>[]): void {
    for (const a of actions) {
      n.actions.push(a);
      switch (a.type) {
        case 'send': {
          const requestId = ++this.requestSeq;
          this.pending.set(`${n.id}:${requestId}`, a.request);
          this.queue.push({ from: n.id, to: a.to, request: a.request, requestId });
          break;
        }
        case 'respond': {
          const key = `${a.to}:${a.requestId}`;
          const answers = this.pending.get(key);
          this.pending.delete(key);
          this.queue.push({ from: n.id, to: a.to, response: a.response, answers });
          break;
        }
        case 'flush':
          n.pendingFlush = n.log.beginFlush();
          if (!n.holdFlush) this.releaseFlush(n.id);
          break;
        default:
          break;
      }
    }
  }

  releaseFlush(id: NodeId): void {
    const n = this.node(id);
    if (n.pendingFlush === null) return;
    n.log.completeFlush(n.pendingFlush);
    n.pendingFlush = null;
    this.apply(n, n.core.handle({ type: 'flushed', now: this.now, durableEndOffset: n.log.durableEndOffset }));
  }

  tick(id: NodeId): void {
    const n = this.node(id);
    this.apply(n, n.core.handle({ type: 'tick', now: this.now }));
  }

  propose(id: NodeId, ...records: string[]) {
    const n = this.node(id);
    const r = n.core.propose(
      records.map((s) => new TextEncoder().encode(s)),
      this.now,
    );
    if (r) this.apply(n, r.actions);
    return r?.batch ?? null;
  }

  /** Delivers one message (the first matching `pick`, else the first); false when none. */
  deliverOne(pick?: (m: Message) => boolean): boolean {
    const i = pick ? this.queue.findIndex(pick) : 0;
    if (i < 0 || i >= this.queue.length) return false;
    const [m] = this.queue.splice(i, 1);
    this.deliver(m!);
    return true;
  }

  deliver(m: Message): void {
    this.delivered.push(m);
    const to = this.nodes.get(m.to);
    if (m.failed) {
      if (to?.up) this.apply(to, to.core.handle({ type: 'sendFailed', now: this.now, to: m.from, request: m.failed }));
      return;
    }
    if (!to?.up || this.cut.has(`${m.from}>${m.to}`)) {
      // lost: the requester's transport reports the failure (as a timeout or a refused connection would)
      const failed = m.request ?? m.answers;
      const requester = m.request ? m.from : m.to;
      const peer = m.request ? m.to : m.from;
      if (failed) this.queue.push({ from: peer, to: requester, failed });
      return;
    }
    if (m.request) {
      this.apply(
        to,
        to.core.handle({ type: 'request', now: this.now, from: m.from, requestId: m.requestId!, request: m.request }),
      );
    } else {
      this.apply(
        to,
        to.core.handle({ type: 'response', now: this.now, from: m.from, response: m.response!, request: m.answers }),
      );
    }
  }

  /** Delivers until the network is quiet (bounded); returns how many were delivered. */
  deliverAll(limit = 10_000): number {
    let n = 0;
    while (this.queue.length > 0) {
      if (++n > limit) throw new Error('harness: the network never went quiet');
      this.deliverOne();
    }
    return n;
  }

  /** Moves the clock to each node's next deadline in turn (up to `until`), ticking and delivering. */
  runUntil(until: number, stop?: () => boolean): void {
    for (let guard = 0; guard < 100_000; guard++) {
      this.deliverAll();
      if (stop?.()) return;
      let next = Number.POSITIVE_INFINITY;
      for (const n of this.nodes.values()) if (n.up) next = Math.min(next, n.core.nextDeadline());
      if (next > until) {
        this.now = until;
        return;
      }
      this.now = Math.max(this.now, next);
      for (const n of this.nodes.values()) if (n.up && n.core.nextDeadline() <= this.now) this.tick(n.id);
    }
    throw new Error('harness: runUntil did not finish');
  }

  leaders(): HarnessNode[] {
    return [...this.nodes.values()].filter((n) => n.up && n.core.role === 'leader');
  }

  /** The records of a log's non-control batches, in order. */
  records(id: NodeId): string[] {
    return this.node(id)
      .log.batches.filter((b) => !b.control)
      .flatMap((b) => b.records);
  }
}

export const encode = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A memory log holding one single-record batch per `[epoch, record]`, all fsynced. */
export function logWith(entries: [number, string][], snapshotBytes = 300): MemoryLog {
  const log = new MemoryLog({ snapshotBytes });
  for (const [epoch, record] of entries) log.appendAsLeader([encode(record)], epoch);
  log.completeFlush(log.beginFlush());
  return log;
}

/** A quorum-state store already holding `epoch` (no vote, no leader). */
export function storeAt(epoch: number): MemoryStore {
  const s = new MemoryStore();
  s.write({ epoch, votedId: -1, leaderId: -1 });
  s.writes = 0;
  return s;
}
