/**
 * Reading the benchmark topic back: one Fetch at a time per leader over all
 * of its partitions (from given offsets, long-polling `maxWaitMs` with
 * minBytes 1), records walked in place with RecordCursor. Two uses: counting
 * a range exactly (catch-up throughput), and turning each value's stamp into
 * an end-to-end latency at the moment its Fetch answer arrived.
 */
import { apiByName } from '../../protocol/apis.ts';
import { check } from '../../client/client.ts';
import { RecordCursor, batch, splitBatches } from '../../protocol/records/index.ts';
import { STAMP_BYTES, monoUs, readStamp } from './stamp.ts';
import type { Leader, TopicRoute } from './route.ts';

export interface FetchSpec {
  maxWaitMs: number;
  maxBytes?: number;
  partitionMaxBytes?: number;
}

/** Sees each new record; the cursor is reused (copy what you keep). */
export type Visit = (cur: RecordCursor, partition: number, recvUs: number) => void;

export class TopicReader {
  /** Next offset to read, by partition. */
  readonly offsets: number[];
  fetches = 0;

  constructor(
    private readonly route: TopicRoute,
    startOffsets: readonly number[],
    private readonly spec: FetchSpec,
  ) {
    this.offsets = [...startOffsets];
  }

  /**
   * Fetches from every leader, each until `done(its partitions)` (checked
   * before each request), and calls `visit` per record.
   */
  async run(done: (partitions: readonly number[]) => boolean, visit: Visit): Promise<void> {
    await Promise.all(this.route.leaders.map((l) => this.readLeader(l, done, visit)));
  }

  private async readLeader(l: Leader, done: (partitions: readonly number[]) => boolean, visit: Visit): Promise<void> {
    const api = apiByName('Fetch');
    const version = Math.min(l.connection.versionOf('Fetch'), 12); // v13+ names topics by id
    const { topic } = this.route;
    const offsets = this.offsets;
    const parts = l.partitions.map((partition) => ({
      partition,
      currentLeaderEpoch: -1,
      fetchOffset: 0,
      lastFetchedEpoch: -1,
      logStartOffset: -1,
      partitionMaxBytes: this.spec.partitionMaxBytes ?? 8 << 20,
    }));
    const body = {
      replicaId: -1,
      maxWaitMs: this.spec.maxWaitMs,
      minBytes: 1,
      maxBytes: this.spec.maxBytes ?? 64 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic, partitions: parts }],
      forgottenTopicsData: [],
      rackId: '',
    };
    while (!done(l.partitions)) {
      for (const fp of parts) fp.fetchOffset = offsets[fp.partition];
      const res = await l.connection.sendAt(api, version, body);
      this.fetches++;
      const recvUs = monoUs();
      check(res.errorCode ?? 0, `fetch ${topic}`);
      for (const t of res.responses) {
        for (const pr of t.partitions) {
          const p: number = pr.partitionIndex;
          check(pr.errorCode, `fetch ${topic}-${p} at offset ${offsets[p]}`);
          const recs: Buffer | null = pr.records;
          if (!recs || recs.length === 0) continue;
          for (const pos of splitBatches(recs, 0, recs.length, { allowPartialTail: true })) {
            if (batch.isControl(recs, pos.at)) {
              offsets[p] = Math.max(offsets[p], batch.lastOffset(recs, pos.at) + 1);
              continue;
            }
            const cur = new RecordCursor(recs, pos.at, { verifyCrc: false });
            while (cur.next()) {
              if (cur.offset < offsets[p]) continue;
              offsets[p] = cur.offset + 1;
              visit(cur, p, recvUs);
            }
          }
        }
      }
    }
  }
}

export interface RangeCount {
  messages: number;
  /** Value bytes. */
  bytes: number;
}

/** Reads every partition from `reader`'s offsets up to (not including) `end`, counting records and value bytes. */
export async function readRange(reader: TopicReader, end: readonly number[]): Promise<RangeCount> {
  const count: RangeCount = { messages: 0, bytes: 0 };
  const offsets = reader.offsets;
  await reader.run(
    (partitions) => partitions.every((p) => offsets[p] >= end[p]),
    (cur, p) => {
      if (cur.offset >= end[p]) return;
      count.messages++;
      if (cur.valueLength > 0) count.bytes += cur.valueLength;
    },
  );
  return count;
}

export interface LatencyWindow {
  /** Messages the producer sends; reading stops once they are all here. */
  total: number;
  /** Stamps before this (the warm-up) are not recorded. */
  recordFromUs: number;
  /** When the producer's last message is due. */
  endUs: number;
  /** Expected samples (sizes the first buffer; it grows when needed). */
  expected: number;
}

export interface LatencySamples {
  received: number;
  /** End-to-end latencies (µs) of the recorded messages. */
  latencyUs: Float64Array;
  /** CLOCK_MONOTONIC µs of the last answer that brought a message. */
  lastRecvUs: number;
}

/** Reads until `total` messages arrived (or 3 s of silence after `endUs`, or 20 s past it); latency = arrival - stamp. */
export async function readLatencies(reader: TopicReader, w: LatencyWindow): Promise<LatencySamples> {
  let lat = new Float64Array(Math.max(1024, w.expected));
  let count = 0;
  let received = 0;
  let lastRecvUs = monoUs();
  const done = () => {
    if (received >= w.total) return true;
    const now = monoUs();
    return now > w.endUs + 20e6 || (now > w.endUs && now - lastRecvUs > 3e6);
  };
  await reader.run(done, (cur, _p, recvUs) => {
    received++;
    lastRecvUs = recvUs;
    if (cur.valueLength < STAMP_BYTES) return;
    const st = readStamp(cur.section, cur.valueStart);
    if (!(st >= w.recordFromUs)) return;
    if (count === lat.length) {
      const grown = new Float64Array(lat.length * 2);
      grown.set(lat);
      lat = grown;
    }
    lat[count++] = recvUs - st;
  });
  return { received, latencyUs: lat.subarray(0, count), lastRecvUs };
}
