/**
 * The embedded "consumer" protocol of classic consumer groups: the bytes a
 * member puts in JoinGroup's protocol metadata (its subscription) and the
 * bytes the leader hands out through SyncGroup (each member's assignment).
 * Both are non-flexible Kafka structures prefixed by an int16 version:
 *
 *   Subscription: version, topics [string], userData (nullable bytes),
 *                 v1+ ownedPartitions [topic, [int32]], v2+ generationId int32,
 *                 v3+ rackId (nullable string)
 *   Assignment:   version, assignedPartitions [topic, [int32]], userData (nullable bytes)
 *
 * Decoding accepts any version (newer versions only append fields, which are
 * ignored past what we know); encoding writes the version asked for.
 * Also here: the range and round-robin assignors a leader runs.
 */

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface Subscription {
  version?: number;
  topics: string[];
  userData?: Buffer | null;
  ownedPartitions?: TopicPartitions[];
  generationId?: number;
  rackId?: string | null;
}

export interface Assignment {
  version?: number;
  partitions: TopicPartitions[];
  userData?: Buffer | null;
}

class Writer {
  private readonly parts: Buffer[] = [];
  int16(n: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    this.parts.push(b);
    return this;
  }
  int32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    this.parts.push(b);
    return this;
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    this.int16(b.length);
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw new Error(`consumer protocol: truncated ${what} at byte ${this.pos}`);
  }
  int16(): number {
    this.need(2, 'int16');
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4, 'int32');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  string(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    this.need(n, 'string');
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bytes(): Buffer | null {
    const n = this.int32();
    if (n < 0) return null;
    this.need(n, 'bytes');
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }
  array<T>(item: () => T): T[] {
    const n = this.int32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return out;
  }
}

function writeTopicPartitions(w: Writer, list: TopicPartitions[]): void {
  w.int32(list.length);
  for (const tp of list) {
    w.string(tp.topic);
    w.int32(tp.partitions.length);
    for (const p of tp.partitions) w.int32(p);
  }
}

function readTopicPartitions(r: Reader): TopicPartitions[] {
  return r.array(() => ({ topic: r.string() ?? '', partitions: r.array(() => r.int32()) }));
}

export function encodeSubscription(s: Subscription): Buffer {
  const version = s.version ?? 0;
  const w = new Writer().int16(version);
  w.int32(s.topics.length);
  for (const t of s.topics) w.string(t);
  w.bytes(s.userData ?? null);
  if (version >= 1) writeTopicPartitions(w, s.ownedPartitions ?? []);
  if (version >= 2) w.int32(s.generationId ?? -1);
  if (version >= 3) w.string(s.rackId ?? null);
  return w.done();
}

export function decodeSubscription(buf: Buffer): Subscription {
  const r = new Reader(buf);
  const version = r.int16();
  const topics = r.array(() => r.string() ?? '');
  const out: Subscription = { version, topics, userData: r.remaining > 0 ? r.bytes() : null };
  if (version >= 1 && r.remaining > 0) out.ownedPartitions = readTopicPartitions(r);
  if (version >= 2 && r.remaining > 0) out.generationId = r.int32();
  if (version >= 3 && r.remaining > 0) out.rackId = r.string();
  return out;
}

export function encodeAssignment(a: Assignment): Buffer {
  const w = new Writer().int16(a.version ?? 0);
  writeTopicPartitions(w, a.partitions);
  w.bytes(a.userData ?? null);
  return w.done();
}

/** An empty buffer (a member with nothing assigned yet, as some brokers send) decodes to no partitions. */
export function decodeAssignment(buf: Buffer | null): Assignment {
  if (!buf || buf.length === 0) return { version: 0, partitions: [], userData: null };
  const r = new Reader(buf);
  const version = r.int16();
  const partitions = readTopicPartitions(r);
  return { version, partitions, userData: r.remaining > 0 ? r.bytes() : null };
}

// ---------------------------------------------------------------- assignors

export interface AssignorMember {
  memberId: string;
  groupInstanceId?: string | null;
  topics: string[];
}

/** 'RoundRobinAssigner' is kafkajs' name for round robin (its only default), offered so kafkajs members can share a group. */
export type AssignorName = 'range' | 'roundrobin' | 'RoundRobinAssigner';

/** Kafka's assignors order members by group instance id (static members) then member id. */
function memberOrder(a: AssignorMember, b: AssignorMember): number {
  const ka = a.groupInstanceId ?? '';
  const kb = b.groupInstanceId ?? '';
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0;
}

function emptyResult(members: AssignorMember[]): Map<string, Map<string, number[]>> {
  return new Map(members.map((m) => [m.memberId, new Map<string, number[]>()]));
}

/**
 * Range: per topic, the subscribed members in order each get a contiguous
 * run of partitions; the first (n mod m) members get one extra.
 */
export function rangeAssign(
  members: AssignorMember[],
  partitionsPerTopic: Map<string, number[]>,
): Map<string, Map<string, number[]>> {
  const out = emptyResult(members);
  const sorted = [...members].sort(memberOrder);
  for (const [topic, parts] of [...partitionsPerTopic].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const subs = sorted.filter((m) => m.topics.includes(topic));
    if (subs.length === 0) continue;
    const ps = [...parts].sort((a, b) => a - b);
    const per = Math.floor(ps.length / subs.length);
    const extra = ps.length % subs.length;
    subs.forEach((m, i) => {
      const start = i * per + Math.min(i, extra);
      const len = per + (i < extra ? 1 : 0);
      if (len > 0) out.get(m.memberId)!.set(topic, ps.slice(start, start + len));
    });
  }
  return out;
}

/** Round robin: all (topic, partition) pairs in order dealt to the members subscribed to the topic, in turn. */
export function roundRobinAssign(
  members: AssignorMember[],
  partitionsPerTopic: Map<string, number[]>,
): Map<string, Map<string, number[]>> {
  const out = emptyResult(members);
  const sorted = [...members].sort(memberOrder);
  if (sorted.length === 0) return out;
  let next = 0;
  for (const [topic, parts] of [...partitionsPerTopic].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const p of [...parts].sort((a, b) => a - b)) {
      // the next member in the circle that subscribes to this topic
      for (let tries = 0; tries < sorted.length; tries++) {
        const m = sorted[next % sorted.length];
        next++;
        if (!m.topics.includes(topic)) continue;
        const list = out.get(m.memberId)!.get(topic) ?? [];
        list.push(p);
        out.get(m.memberId)!.set(topic, list);
        break;
      }
    }
  }
  return out;
}

export function toTopicPartitions(m: Map<string, number[]>): TopicPartitions[] {
  return [...m].map(([topic, partitions]) => ({ topic, partitions }));
}
