/**
 * The fault tests' checker: from what the producers were told (acknowledged
 * records with their partition and offset), what a consumer read during the
 * run, what a final read returned up to each partition's high watermark, and
 * the segment files of every replica, it decides whether anything was lost,
 * duplicated, reordered or diverged. Pure functions over parsed outputs, plus
 * one that reads a replica's log segments.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface Ack {
  partition: number;
  offset: number;
  value: string;
  /** When the producer learnt it (ms since the epoch). */
  at: number;
  /** When the application handed it to the client (ms since the epoch). */
  sentAt: number;
}

export interface ProducerLog {
  acks: Ack[];
  /** Values whose delivery failed (not acknowledged). */
  failed: string[];
  /** Fatal errors librdkafka reported to the application (error_cb), verbatim. */
  errors: string[];
  /** Transient errors librdkafka reported and retried (refused connections). */
  warnings: string[];
  /** Records the producer handed to the client. */
  sent: number;
  /** Records still undelivered after its final flush. */
  undelivered: number;
  done: boolean;
}

export interface ReadRecord {
  partition: number;
  offset: number;
  value: string;
}

export function parseProducer(stdout: string): ProducerLog {
  const log: ProducerLog = { acks: [], failed: [], errors: [], warnings: [], sent: 0, undelivered: 0, done: false };
  for (const line of stdout.split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'A' && f.length === 6)
      log.acks.push({
        partition: Number(f[1]),
        offset: Number(f[2]),
        value: f[3],
        at: Number(f[4]),
        sentAt: Number(f[5]),
      });
    else if (f[0] === 'E') log.failed.push(f[1]);
    else if (f[0] === 'X') log.errors.push(f[1]);
    else if (f[0] === 'W') log.warnings.push(f[1]);
    else if (f[0] === 'D') {
      log.done = true;
      log.sent = Number(f[1]);
      log.undelivered = Number(f[2]);
    }
  }
  return log;
}

export function parseReads(stdout: string): { records: ReadRecord[]; hw: Map<number, number>; errors: string[] } {
  const records: ReadRecord[] = [];
  const hw = new Map<number, number>();
  const errors: string[] = [];
  for (const line of stdout.split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'R' && f.length === 4) records.push({ partition: Number(f[1]), offset: Number(f[2]), value: f[3] });
    else if (f[0] === 'H') hw.set(Number(f[1]), Number(f[2]));
    else if (f[0] === 'X') errors.push(f[1]);
  }
  return { records, hw, errors };
}

export interface Verdict {
  acknowledged: number;
  /** Acknowledged records not in the final read. */
  lost: string[];
  /** Values present more than once in the final read (acknowledged or not). */
  duplicated: string[];
  /** Acknowledged records found at another partition/offset than the producer was told. */
  misplaced: string[];
  /** Records of one producer to one partition out of send order. */
  reordered: string[];
  /** Offsets the final read skipped or repeated (a partition must read back as 0..hw-1). */
  gaps: string[];
  /** Records a consumer saw during the run that the final read has differently (a read above the committed log). */
  unstableReads: string[];
  /** Partitions whose replicas differ below the high watermark. */
  divergentReplicas: string[];
  /** Records in the log that no producer acknowledged (allowed: failed or undelivered sends). */
  unacknowledgedPresent: number;
  ok: boolean;
}

/** `tag-n` values: the producer tag and the sequence number. */
function splitValue(v: string): [string, number] {
  const i = v.lastIndexOf('-');
  return [v.slice(0, i), Number(v.slice(i + 1))];
}

export function check(input: {
  producers: ProducerLog[];
  final: ReadRecord[];
  hw: Map<number, number>;
  live: ReadRecord[];
  divergentReplicas: string[];
}): Verdict {
  const acks = input.producers.flatMap((p) => p.acks);
  const byValue = new Map<string, ReadRecord[]>();
  for (const r of input.final) {
    const l = byValue.get(r.value);
    if (l) l.push(r);
    else byValue.set(r.value, [r]);
  }
  const lost: string[] = [];
  const misplaced: string[] = [];
  const acked = new Set<string>();
  for (const a of acks) {
    acked.add(a.value);
    const found = byValue.get(a.value);
    if (!found) lost.push(`${a.value}@${a.partition}:${a.offset}`);
    else if (!found.some((r) => r.partition === a.partition && r.offset === a.offset))
      misplaced.push(
        `${a.value} acked at ${a.partition}:${a.offset}, read at ${found[0].partition}:${found[0].offset}`,
      );
  }
  const duplicated = [...byValue].filter(([, l]) => l.length > 1).map(([v, l]) => `${v} x${l.length}`);

  const reordered: string[] = [];
  const gaps: string[] = [];
  const partitions = new Map<number, ReadRecord[]>();
  for (const r of input.final) {
    const l = partitions.get(r.partition);
    if (l) l.push(r);
    else partitions.set(r.partition, [r]);
  }
  for (const [p, hw] of input.hw) {
    const recs = (partitions.get(p) ?? []).slice().sort((a, b) => a.offset - b.offset);
    for (let i = 0; i < recs.length; i++) {
      if (recs[i].offset !== i) {
        gaps.push(`partition ${p}: offset ${recs[i].offset} at position ${i}`);
        break;
      }
    }
    if (recs.length !== hw) gaps.push(`partition ${p}: ${recs.length} records read below high watermark ${hw}`);
    const lastSeq = new Map<string, number>();
    for (const r of recs) {
      const [tag, seq] = splitValue(r.value);
      const prev = lastSeq.get(tag);
      if (prev !== undefined && seq <= prev)
        reordered.push(`partition ${p} offset ${r.offset}: ${r.value} after ${tag}-${prev}`);
      lastSeq.set(tag, seq);
    }
  }

  const at = new Map<string, string>();
  for (const r of input.final) at.set(`${r.partition}:${r.offset}`, r.value);
  const unstableReads: string[] = [];
  for (const r of input.live) {
    const v = at.get(`${r.partition}:${r.offset}`);
    if (v !== r.value) unstableReads.push(`${r.partition}:${r.offset} read ${r.value}, finally ${v ?? 'absent'}`);
  }
  const unacknowledgedPresent = input.final.filter((r) => !acked.has(r.value)).length;
  const ok =
    lost.length === 0 &&
    duplicated.length === 0 &&
    misplaced.length === 0 &&
    reordered.length === 0 &&
    gaps.length === 0 &&
    unstableReads.length === 0 &&
    input.divergentReplicas.length === 0;
  return {
    acknowledged: acks.length,
    lost,
    duplicated,
    misplaced,
    reordered,
    gaps,
    unstableReads,
    divergentReplicas: input.divergentReplicas,
    unacknowledgedPresent,
    ok,
  };
}

/**
 * The record batches of one replica's partition directory whose last offset
 * is below `hw`, concatenated in offset order as they are on disk, and the
 * offset after the last of them (the replica holds everything below `hw`
 * when it equals `hw`).
 */
export function replicaBytesBelow(partitionDir: string, hw: number): { bytes: Buffer; end: number } {
  if (!fs.existsSync(partitionDir)) return { bytes: Buffer.alloc(0), end: 0 };
  const segments = fs
    .readdirSync(partitionDir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .sort();
  const parts: Buffer[] = [];
  let end = -1;
  for (const f of segments) {
    const buf = fs.readFileSync(path.join(partitionDir, f));
    let pos = 0;
    while (pos + 61 <= buf.length) {
      const base = Number(buf.readBigInt64BE(pos));
      const len = buf.readInt32BE(pos + 8);
      if (len <= 0 || pos + 12 + len > buf.length) break;
      const last = base + buf.readInt32BE(pos + 23);
      if (last < hw) {
        parts.push(buf.subarray(pos, pos + 12 + len));
        if (end < 0) end = base;
        end = last + 1;
      }
      pos += 12 + len;
    }
  }
  return { bytes: Buffer.concat(parts), end: Math.max(end, 0) };
}

/**
 * One line per record batch of a replica's partition directory: offsets,
 * partition leader epoch, producer id, producer epoch, base sequence, record
 * count. For failure reports.
 */
export function describeBatches(partitionDir: string, from = 0, to = Number.MAX_SAFE_INTEGER): string[] {
  if (!fs.existsSync(partitionDir)) return [];
  const out: string[] = [];
  for (const f of fs
    .readdirSync(partitionDir)
    .filter((x) => /^\d{20}\.log$/.test(x))
    .sort()) {
    const buf = fs.readFileSync(path.join(partitionDir, f));
    for (let pos = 0; pos + 61 <= buf.length; ) {
      const base = Number(buf.readBigInt64BE(pos));
      const len = buf.readInt32BE(pos + 8);
      if (len <= 0 || pos + 12 + len > buf.length) break;
      const last = base + buf.readInt32BE(pos + 23);
      if (last >= from && base <= to)
        out.push(
          `${base}-${last} leaderEpoch ${buf.readInt32BE(pos + 12)} producer ${buf.readBigInt64BE(pos + 43)} epoch ${buf.readInt16BE(pos + 51)} seq ${buf.readInt32BE(pos + 53)} records ${buf.readInt32BE(pos + 57)}`,
        );
      pos += 12 + len;
    }
  }
  return out;
}

/** Replicas whose bytes below the high watermark differ from the first one's, or which miss some of them. */
export function compareReplicas(
  dataDirs: string[],
  topic: string,
  hw: Map<number, number>,
): { divergent: string[]; behind: string[] } {
  const divergent: string[] = [];
  const behind: string[] = [];
  for (const [p, h] of hw) {
    const views = dataDirs.map((d) => replicaBytesBelow(path.join(d, `${topic}-${p}`), h));
    views.forEach((v, i) => {
      if (v.end !== h) behind.push(`partition ${p}: replica ${i + 1} holds up to ${v.end} of ${h}`);
    });
    const full = views.map((v, i) => ({ v, i })).filter(({ v }) => v.end === h);
    for (const { v, i } of full.slice(1)) {
      if (!v.bytes.equals(full[0].v.bytes))
        divergent.push(`partition ${p}: replica ${i + 1} differs from replica ${full[0].i + 1} below ${h}`);
    }
  }
  return { divergent, behind };
}

/** Nearest-rank percentile of a non-empty list. */
export function percentile(values: number[], q: number): number {
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export interface FaultEvent {
  at: number;
  kind: string;
  node: number;
  /** Partitions the node led when the fault began. */
  led: number[];
}

/**
 * Unavailability of each fault that hit a partition leader: from the fault to
 * the first acknowledgement of a record sent after it, on every partition the
 * node led (the longest of them; records in flight at the fault do not
 * count). Infinity when a partition never acknowledged again.
 */
export function unavailability(events: FaultEvent[], acks: Ack[]): { event: FaultEvent; ms: number }[] {
  const byPartition = new Map<number, Ack[]>();
  for (const a of acks) {
    const l = byPartition.get(a.partition);
    if (l) l.push(a);
    else byPartition.set(a.partition, [a]);
  }
  for (const l of byPartition.values()) l.sort((a, b) => a.at - b.at);
  const out: { event: FaultEvent; ms: number }[] = [];
  for (const e of events) {
    if (e.led.length === 0) continue;
    let worst = 0;
    for (const p of e.led) {
      const next = (byPartition.get(p) ?? []).find((a) => a.sentAt >= e.at);
      worst = Math.max(worst, next === undefined ? Number.POSITIVE_INFINITY : next.at - e.at);
    }
    out.push({ event: e, ms: worst });
  }
  return out;
}
