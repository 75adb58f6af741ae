// Log cleaner (cleanup.policy=compact) over compressed batches: keys indexed
// across compressed and uncompressed batches, compressed batches re-encoded
// with their codec and offsets, tombstones, producer batches, transactional
// and aborted transactions' batches removed (markers kept while their
// transaction has batches), and crashes between the cleaner's steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { cleanLog, type CleanerHooks } from '../../../src/storage/cleaner.ts';
import { OFF_CRC, batch as hdr, computeBatchCrc, isBatchCrcValid } from '../../../src/protocol/records/batch-header.ts';
import { Compression, compress } from '../../../src/protocol/records/compression.ts';
import { decodeBatch, encodeBatch, TimestampType } from '../../../src/protocol/records/record-batch.ts';
import { validateBatchForAppend } from '../../../src/protocol/records/validate.ts';
import { encodeTxnMarkerBatch } from '../../../src/protocol/records/control.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { batchOffsets, config, joined, silent, tempDir } from './fixtures.ts';

const NOW = 50_000_000;
const noFsync = async () => {};
const cfg = config({ cleanupPolicy: 'compact', deleteRetentionMs: 1000, minCompactionLagMs: 0, segmentBytes: 1 << 20 });

type KV = [key: string, value: string | null];

interface BatchSpec {
  codec?: number;
  records: KV[];
  ts?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  logAppendTime?: boolean;
  /** Header on the record at this index. */
  headerOn?: number;
}

function batchOf(s: BatchSpec): Buffer {
  const ts = s.ts ?? NOW - 10_000;
  return encodeBatch({
    compression: s.codec ?? Compression.NONE,
    producerId: s.producerId,
    producerEpoch: s.producerEpoch,
    baseSequence: s.baseSequence,
    isTransactional: s.isTransactional,
    timestampType: s.logAppendTime ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
    records: s.records.map(([k, v], i) => ({
      key: k,
      value: v,
      timestamp: ts + i * 7,
      headers: s.headerOn === i ? [{ key: 'h', value: `hdr-${k}` }] : [],
    })),
  });
}

interface Rec {
  key: string;
  value: string | null;
  offset: number;
  timestamp: number;
  headers: [string, string | null][];
}
interface BatchInfo {
  base: number;
  last: number;
  codec: number;
  count: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  leaderEpoch: number;
  baseTimestamp: number;
  maxTimestamp: number;
  attributes: number;
  bytes: Buffer;
}

/** Every batch the log serves, decoded (CRC verified by decodeBatch). */
function readAll(log: PartitionLog): { records: Rec[]; batches: BatchInfo[] } {
  const records: Rec[] = [];
  const batches: BatchInfo[] = [];
  let off = log.logStartOffset;
  while (off < log.logEndOffset) {
    const r = joined(log.read(off, 1 << 20));
    assert.ok(r.length > 0, `read at ${off} returned nothing`);
    for (let at = 0; at < r.length; at += hdr.totalSize(r, at)) {
      const d = decodeBatch(r, at);
      batches.push({
        base: d.baseOffset,
        last: d.baseOffset + d.lastOffsetDelta,
        codec: d.compression,
        count: d.recordCount,
        producerId: d.producerId,
        producerEpoch: d.producerEpoch,
        baseSequence: d.baseSequence,
        leaderEpoch: d.partitionLeaderEpoch,
        baseTimestamp: d.baseTimestamp,
        maxTimestamp: d.maxTimestamp,
        attributes: d.attributes,
        bytes: Buffer.from(r.subarray(at, at + hdr.totalSize(r, at))),
      });
      for (const x of d.records) {
        records.push({
          key: x.key!.toString(),
          value: x.value === null ? null : x.value.toString(),
          offset: x.offset,
          timestamp: x.timestamp,
          headers: x.headers.map((h) => [h.key, h.value === null ? null : h.value.toString()]),
        });
      }
    }
    off = batchOffsets(r).at(-1)!.last + 1;
  }
  return { records, batches };
}

/** The latest record per key, as a consumer reading the whole log sees it. */
function latestView(records: Rec[]): Map<string, Rec> {
  const m = new Map<string, Rec>();
  for (const r of records) m.set(r.key, r);
  return m;
}

/**
 * Every batch is intact: CRC valid, and append validation finds nothing but
 * the gaps compaction leaves (a batch keeps its lastOffsetDelta with fewer
 * records, as in Kafka, which append validation of a producer batch refuses).
 */
function assertBatchesValid(batches: BatchInfo[]): void {
  for (const b of batches) {
    assert.ok(isBatchCrcValid(b.bytes, 0, b.bytes.length), `batch ${b.base}: CRC`);
    const p = validateBatchForAppend(b.bytes, 0, b.bytes.length, { checkRecords: false });
    if (b.count === b.last - b.base + 1) assert.equal(p, null, `batch ${b.base}: ${p?.message}`);
    else {
      assert.equal(p?.errorCode, ErrorCode.INVALID_RECORD, `batch ${b.base}: ${p?.message}`);
      assert.match(p!.message, /inconsistent batch: lastOffsetDelta/);
    }
  }
}

async function openLog(d: string, clean = true): Promise<PartitionLog> {
  return PartitionLog.open(d, cfg, { cleanShutdown: clean, recoveryPoint: 0, fsync: noFsync, now: () => NOW });
}

/** Append each group of batches, rolling after each group; the last group stays in the active segment. */
function appendGroups(log: PartitionLog, groups: (BatchSpec | Buffer)[][]): void {
  groups.forEach((g, i) => {
    for (const s of g)
      if (Buffer.isBuffer(s)) log.append(s, { leaderEpoch: 3 });
      else log.append(batchOf(s), { leaderEpoch: 3, logAppendTime: s.logAppendTime ? s.ts : undefined });
    if (i < groups.length - 1) log.roll();
  });
  log.setHighWatermark(log.logEndOffset);
}

const warnings: object[] = [];
const logger = { ...silent, warn: (o: object) => void warnings.push(o) };

for (const [name, codec] of [
  ['gzip', Compression.GZIP],
  ['lz4', Compression.LZ4],
  ['zstd', Compression.ZSTD],
  ['snappy', Compression.SNAPPY],
] as const) {
  test(`${name}: keys are indexed across compressed and uncompressed batches; offsets, codec and batch fields are kept`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const log = await openLog(dir);
      appendGroups(log, [
        [
          {
            records: [
              ['k1', 'a1'],
              ['k2', 'a2'],
              ['k3', 'a3'],
            ],
          }, // 0-2: all superseded, dropped
          // 3-6: k1 and k2 stay (k1 with a header), k4 and k5 are superseded
          {
            codec,
            records: [
              ['k1', 'b1'],
              ['k4', 'b4'],
              ['k2', 'b2'],
              ['k5', 'b5'],
            ],
            producerId: 7,
            producerEpoch: 2,
            baseSequence: 0,
            headerOn: 0,
          },
        ],
        [
          {
            records: [
              ['k4', 'c4'],
              ['k6', 'c6'],
            ],
          }, // 7-8
          {
            codec,
            records: [
              ['k5', 'd5'],
              ['k7', 'd7'],
            ],
            logAppendTime: true,
            ts: NOW - 20_000,
          }, // 9-10
        ],
        [
          {
            codec,
            records: [
              ['k3', 'e3'],
              ['k8', 'e8'],
            ],
          }, // 11-12: all kept, whole
          {
            codec,
            records: [
              ['k6', 'f6'],
              ['k7', 'f7'],
            ],
          }, // 13-14: all superseded, dropped
          {
            records: [
              ['k6', 'g6'],
              ['k7', 'g7'],
            ],
          }, // 15-16
        ],
        [{ codec, records: [['k1', 'tail']] }], // 17: active segment, not cleanable
      ]);
      const leo = log.logEndOffset;
      const before = readAll(log);
      const removed = cleanLog(log, NOW, logger);
      assert.ok(removed > 0);
      assert.equal(log.logEndOffset, leo);
      const after = readAll(log);
      assertBatchesValid(after.batches);
      // exactly the latest record of each key in the cleaned range, plus the active segment
      assert.deepEqual(
        after.records.map((r) => [r.key, r.value, r.offset]),
        [
          ['k1', 'b1', 3],
          ['k2', 'b2', 5],
          ['k4', 'c4', 7],
          ['k5', 'd5', 9],
          ['k3', 'e3', 11],
          ['k8', 'e8', 12],
          ['k6', 'g6', 15],
          ['k7', 'g7', 16],
          ['k1', 'tail', 17],
        ],
      );
      assert.deepEqual(latestView(after.records), latestView(before.records));
      // every kept record is byte-for-byte the record it was (timestamp, headers)
      const beforeAt = new Map(before.records.map((r) => [r.offset, r]));
      for (const r of after.records) assert.deepEqual(r, beforeAt.get(r.offset));
      assert.deepEqual(after.records[0].headers, [['h', 'hdr-k1']]);
      // batches keep their offset ranges, codec, producer fields, epochs, timestamps, attributes
      const beforeBatch = new Map(before.batches.map((b) => [b.base, b]));
      assert.deepEqual(
        after.batches.map((b) => [b.base, b.last, b.count]),
        [
          [3, 6, 2],
          [7, 8, 1],
          [9, 10, 1],
          [11, 12, 2],
          [15, 16, 2],
          [17, 17, 1],
        ],
      );
      for (const b of after.batches) {
        const o = beforeBatch.get(b.base)!;
        for (const f of [
          'last',
          'codec',
          'producerId',
          'producerEpoch',
          'baseSequence',
          'leaderEpoch',
          'baseTimestamp',
          'maxTimestamp',
          'attributes',
        ] as const) {
          assert.equal(b[f], o[f], `batch ${b.base} ${f}`);
        }
        if (b.count === o.count) assert.deepEqual(b.bytes, o.bytes, `batch ${b.base} kept whole`);
      }
      assert.equal(after.batches[0].producerId, 7);
      assert.equal(after.batches[2].attributes & 0x08, 0x08, 'LogAppendTime kept');
      // what was compacted survives a restart (recovery rescans and validates every batch)
      log.abandon();
      const back = await openLog(dir, false);
      assert.equal(back.logEndOffset, leo);
      assert.deepEqual(readAll(back).records, after.records);
      // a second pass finds nothing more to remove
      back.setHighWatermark(back.logEndOffset);
      assert.equal(cleanLog(back, NOW, logger), 0);
      await back.close();
    } finally {
      cleanup();
    }
  });
}

test('tombstones in compressed batches shadow older values and go after delete.retention.ms', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const log = await openLog(dir);
    appendGroups(log, [
      [
        {
          records: [
            ['k1', 'w1'],
            ['k4', 'w4'],
          ],
        }, // 0-1: both superseded
        {
          codec: Compression.GZIP,
          records: [
            ['k1', 'x1'],
            ['k2', 'x2'],
          ],
        }, // 2-3: both superseded
      ],
      [
        {
          codec: Compression.ZSTD,
          records: [
            ['k1', null],
            ['k3', 'y3'],
          ],
          ts: NOW - 5000,
        }, // 4-5: old tombstone
        {
          codec: Compression.LZ4,
          records: [
            ['k2', null],
            ['k4', 'z4'],
          ],
          ts: NOW - 10,
        }, // 6-7: young tombstone
      ],
      [{ records: [['tail', 't']] }],
    ]);
    const leo = log.logEndOffset;
    cleanLog(log, NOW, logger);
    let view = readAll(log);
    assertBatchesValid(view.batches);
    assert.equal(log.logEndOffset, leo);
    assert.deepEqual(
      view.records.map((r) => [r.key, r.value, r.offset]),
      [
        ['k3', 'y3', 5],
        ['k2', null, 6],
        ['k4', 'z4', 7],
        ['tail', 't', 8],
      ],
    );
    assert.deepEqual(
      view.batches.map((b) => [b.base, b.last, b.codec, b.count]),
      [
        [4, 5, Compression.ZSTD, 1],
        [6, 7, Compression.LZ4, 2],
        [8, 8, Compression.NONE, 1],
      ],
    );
    // later, the younger tombstone is past delete.retention.ms too
    cleanLog(log, NOW + 2000, logger);
    view = readAll(log);
    assertBatchesValid(view.batches);
    assert.deepEqual(
      view.records.map((r) => [r.key, r.value, r.offset]),
      [
        ['k3', 'y3', 5],
        ['k4', 'z4', 7],
        ['tail', 't', 8],
      ],
    );
    assert.deepEqual(
      view.batches.map((b) => [b.base, b.last, b.codec, b.count]),
      [
        [4, 5, Compression.ZSTD, 1],
        [6, 7, Compression.LZ4, 1],
        [8, 8, Compression.NONE, 1],
      ],
    );
    await log.close();
  } finally {
    cleanup();
  }
});

test("an emptied batch is dropped unless it is its producer's last batch in the cleaned range, which is kept whole", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const log = await openLog(dir);
    appendGroups(log, [
      [
        {
          codec: Compression.ZSTD,
          records: [
            ['a', '1'],
            ['b', '1'],
          ],
          producerId: 5,
          producerEpoch: 1,
          baseSequence: 0,
        }, // 0-1: dropped
        {
          codec: Compression.ZSTD,
          records: [
            ['a', '2'],
            ['b', '2'],
          ],
          producerId: 5,
          producerEpoch: 1,
          baseSequence: 2,
        }, // 2-3: last of 5, kept whole
        { records: [['c', '1']], producerId: 6, producerEpoch: 0, baseSequence: 0 }, // 4: last of 6, kept whole
      ],
      [
        {
          records: [
            ['a', '3'],
            ['b', '3'],
            ['c', '2'],
          ],
        }, // 5-7: no producer
        { records: [['a', '4']] }, // 8
      ],
      [{ records: [['tail', 't']] }],
    ]);
    cleanLog(log, NOW, logger);
    const view = readAll(log);
    assertBatchesValid(view.batches);
    assert.deepEqual(
      view.batches.map((b) => [b.base, b.last, b.count, b.producerId, b.baseSequence]),
      [
        [2, 3, 2, 5, 2],
        [4, 4, 1, 6, 0],
        [5, 7, 2, -1, -1],
        [8, 8, 1, -1, -1],
        [9, 9, 1, -1, -1],
      ],
    );
    // the newest value of every key is unchanged by what was kept
    assert.deepEqual(
      [...latestView(view.records)].map(([k, r]) => [k, r.value, r.offset]),
      [
        ['a', '4', 8],
        ['b', '3', 6],
        ['c', '2', 7],
        ['tail', 't', 9],
      ],
    );
    await log.close();
  } finally {
    cleanup();
  }
});

test('an aborted transaction is removed, its marker kept; compressed batches that do not decode are kept whole; neither is indexed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const log = await openLog(dir);
    // A gzip batch whose section is valid gzip of bytes that are not records, with a valid CRC
    // (the produce path does not decompress, so such a batch can be stored).
    const bad = batchOf({ codec: Compression.GZIP, records: [['q', 'q1']] });
    const junk = Buffer.concat([bad.subarray(0, 61), compress(Compression.GZIP, Buffer.from('not records at all'))]);
    junk.writeInt32BE(junk.length - 12, 8);
    junk.writeUInt32BE(computeBatchCrc(junk, 0, junk.length), OFF_CRC);
    appendGroups(log, [
      [
        {
          records: [
            ['k2', 'p2'],
            ['k1', 'p1'],
          ],
        }, // 0-1: k1 superseded; k2 stays (the aborted transactional k2 does not shadow it)
        {
          codec: Compression.LZ4,
          records: [
            ['k1', 't1'],
            ['k2', 't2'],
          ],
          producerId: 9,
          producerEpoch: 0,
          baseSequence: 0,
          isTransactional: true,
        }, // 2-3
        encodeTxnMarkerBatch({
          commit: false,
          producerId: 9,
          producerEpoch: 0,
          coordinatorEpoch: 0,
          timestamp: NOW - 10_000,
        }), // 4
      ],
      [
        {
          records: [
            ['k1', 'p3'],
            ['q', 'old'],
          ],
        },
      ], // 5-6: q not shadowed by the undecodable batch
      [{ records: [['k1', 'p4']] }], // 7
    ]);
    log.roll();
    log.append(junk, { leaderEpoch: 3 }); // 8
    log.roll();
    log.append(batchOf({ records: [['tail', 't']] }), { leaderEpoch: 3 }); // 9
    log.setHighWatermark(log.logEndOffset);
    warnings.length = 0;
    cleanLog(log, NOW, logger);
    assert.equal(warnings.length, 1, 'the undecodable batch is reported');
    const parts: Buffer[] = [];
    for (let off = 0; off < log.logEndOffset; ) {
      const chunk = joined(log.read(off, 1 << 20));
      parts.push(chunk);
      off = batchOffsets(chunk).at(-1)!.last + 1;
    }
    const r = Buffer.concat(parts);
    const offsets: [number, number][] = [];
    for (let at = 0; at < r.length; at += hdr.totalSize(r, at)) {
      assert.ok(isBatchCrcValid(r, at, hdr.totalSize(r, at)));
      offsets.push([hdr.baseOffset(r, at), hdr.recordCount(r, at)]);
    }
    assert.deepEqual(offsets, [
      [0, 1],
      [4, 1],
      [5, 1],
      [7, 1],
      [8, 1],
      [9, 1],
    ]);
    // the aborted batch is gone; its marker stays, as this pass saw the transaction's batch
    assert.ok(hdr.isControl(r, hdr.totalSize(r, 0)));
    assert.equal(log.abortedTransactions(0, 10).length, 1);
    const first = decodeBatch(r, 0);
    assert.deepEqual(
      first.records.map((x) => [x.key!.toString(), x.offset]),
      [['k2', 0]],
    );
    await log.close();
  } finally {
    cleanup();
  }
});

class Crash extends Error {}

test('a crash after any step of the cleaner loses nothing; a later pass finishes the job', async () => {
  const groups: BatchSpec[][] = [
    [
      {
        records: [
          ['k1', 'a1'],
          ['k2', 'a2'],
        ],
      },
      {
        codec: Compression.GZIP,
        records: [
          ['k1', 'b1'],
          ['k3', 'b3'],
          ['k4', 'b4'],
        ],
      },
    ],
    [
      {
        codec: Compression.ZSTD,
        records: [
          ['k2', 'c2'],
          ['k3', null],
        ],
        ts: NOW - 5000,
      },
      {
        codec: Compression.LZ4,
        records: [
          ['k4', 'd4'],
          ['k5', 'd5'],
        ],
      },
    ],
    [
      {
        codec: Compression.GZIP,
        records: [
          ['k5', 'e5'],
          ['k1', 'e1'],
        ],
      },
    ],
    [{ records: [['tail', 't']] }],
  ];
  // The result of an uninterrupted pass.
  const ref = tempDir();
  let expected: Rec[];
  let expectedLatest: Map<string, Rec>;
  try {
    const log = await openLog(ref.dir);
    appendGroups(log, groups);
    expectedLatest = latestView(readAll(log).records);
    expectedLatest.delete('k3'); // the old tombstone goes
    cleanLog(log, NOW, logger);
    expected = readAll(log).records;
    assert.deepEqual(latestView(expected), expectedLatest);
    await log.close();
  } finally {
    ref.cleanup();
  }
  const steps: (keyof CleanerHooks)[] = ['afterCleaned', 'afterSwapFile', 'afterSwapIn'];
  let crashes = 0;
  for (const step of steps) {
    for (let nth = 0; nth < 3; nth++) {
      const { dir, cleanup } = tempDir();
      try {
        const log = await openLog(dir);
        appendGroups(log, groups);
        const leo = log.logEndOffset;
        const beforeLatest = latestView(readAll(log).records);
        let calls = 0;
        const hooks: CleanerHooks = {
          [step]: () => {
            if (calls++ === nth) throw new Crash(`${step} #${nth}`);
          },
        };
        let crashed = false;
        try {
          cleanLog(log, NOW, logger, hooks);
        } catch (err) {
          if (!(err instanceof Crash)) throw err;
          crashed = true;
        }
        log.abandon(); // power cut
        if (!crashed) continue; // fewer rewritten segments than nth
        crashes++;
        const back = await openLog(dir, false);
        assert.equal(back.logEndOffset, leo, `${step} #${nth}`);
        const view = readAll(back);
        assertBatchesValid(view.batches);
        // Each key's newest record is the one written, or, only for a tombstone past
        // delete.retention.ms, gone; nothing else is lost.
        const got = latestView(view.records);
        for (const [k, r] of beforeLatest) {
          if (got.has(k)) assert.deepEqual(got.get(k), r, `${step} #${nth}: ${k}`);
          else assert.equal(r.value, null, `${step} #${nth}: ${k} lost`);
        }
        back.setHighWatermark(back.logEndOffset);
        cleanLog(back, NOW, logger);
        assert.deepEqual(readAll(back).records, expected, `${step} #${nth}: second pass`);
        await back.close();
      } finally {
        cleanup();
      }
    }
  }
  assert.ok(crashes >= 6, `crashes injected: ${crashes}`);
});
