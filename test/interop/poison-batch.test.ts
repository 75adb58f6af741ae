/**
 * Poison batches between good ones. A real client (kcat) produces good
 * batches with every codec; between them a raw-socket producer sends
 * batches with valid CRCs whose compressed payload is garbage (each codec),
 * bogus record counts (2^31-1), a count that disagrees with the records, and
 * a decompression bomb. Each is refused with Kafka's error code and message
 * (Produce v8: error_message, record_errors); then kcat (librdkafka) and
 * kafka-python read every good record, none of the bad ones, and the high
 * watermark is the number of good records (kafka-python as installed here
 * reads none and gzip only, so it gets a topic whose good batches use those).
 * Also: INVALID_TIMESTAMP prints the
 * exact 64-bit timestamp.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { startTestBroker, uniqueTopic, type TestBroker } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { runPy } from '../helpers/proc.ts';
import { WireConn } from '../helpers/wire.ts';
import { apiByKey } from '../../src/protocol/apis.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  OFF_BATCH_LENGTH,
  OFF_LAST_OFFSET_DELTA,
  OFF_MAX_TIMESTAMP,
  OFF_RECORD_COUNT,
  computeBatchCrc,
} from '../../src/protocol/records/batch-header.ts';
import { Compression, compressionName } from '../../src/protocol/records/compression.ts';
import { encodeBatch } from '../../src/protocol/records/record-batch.ts';

const PRODUCE = apiByKey(0)!;
const PRODUCE_VERSION = 8;
const CODECS = [Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD];
const KCAT_CODEC = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

interface PartitionAnswer {
  errorCode: number;
  errorMessage: string | null;
  recordErrors: { batchIndex: number; batchIndexErrorMessage: string | null }[];
}

function recrc(b: Buffer): Buffer {
  b.writeUInt32BE(computeBatchCrc(b, 0, b.length), 17);
  return b;
}

const records = (tag: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ value: `bad-${tag}-${i}`, timestamp: Date.now() }));

/** A batch of `codec` whose payload (after the header) is `payload`, with a valid CRC. */
function withPayload(codec: number, payload: Buffer): Buffer {
  const good = encodeBatch({ compression: codec, records: records(compressionName(codec), 3) });
  const b = Buffer.concat([good.subarray(0, BATCH_HEADER_SIZE), payload]);
  b.writeInt32BE(b.length - LOG_OVERHEAD, OFF_BATCH_LENGTH);
  return recrc(b);
}

function withCount(b: Buffer, count: number): Buffer {
  const out = Buffer.from(b);
  out.writeInt32BE(count, OFF_RECORD_COUNT);
  out.writeInt32BE(count - 1, OFF_LAST_OFFSET_DELTA);
  return recrc(out);
}

describe('poison batches between good ones', () => {
  let broker: TestBroker;
  let conn: WireConn;
  let correlation = 100;

  before(async () => {
    broker = await startTestBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
    conn = await WireConn.open(broker.host, broker.port);
  });
  after(async () => {
    conn?.destroy();
    await broker?.close();
  });

  async function createTopic(topic: string) {
    const admin = new Kafka({ brokers: [broker.bootstrapServers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
  }

  async function highWatermark(topic: string): Promise<number> {
    const admin = new Kafka({ brokers: [broker.bootstrapServers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      return Number((await admin.fetchTopicOffsets(topic))[0].high);
    } finally {
      await admin.disconnect();
    }
  }

  /** Produce v8 with one batch to partition 0 over the raw socket; the partition's answer. */
  async function rawProduce(topic: string, batch: Buffer): Promise<PartitionAnswer> {
    const w = new Writer();
    PRODUCE.requestEncoder(PRODUCE_VERSION)(w, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
    });
    const cid = ++correlation;
    const frame = await conn.request(0, PRODUCE_VERSION, cid, w.toBuffer());
    const r = new Reader(frame);
    assert.equal(r.int32(), cid);
    const resp = PRODUCE.responseDecoder(PRODUCE_VERSION)(r);
    return resp.responses[0].partitionResponses[0];
  }

  const junk = Buffer.from('not compressed at all, though the batch CRC covers it faithfully');
  const preamble: Record<number, Buffer> = {
    [Compression.GZIP]: Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]),
    [Compression.SNAPPY]: Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]),
    [Compression.LZ4]: Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]),
    [Compression.ZSTD]: Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]),
  };

  /**
   * kcat produces good batches (cycling through `goodCodecs`) to partition 0
   * of `topic`, with every poison batch sent between them; each poison batch
   * must be refused with its code. Returns the good values in log order.
   */
  async function poisonSequence(topic: string, goodCodecs: number[]): Promise<string[]> {
    const good: string[] = [];
    let round = 0;
    const produceGood = async () => {
      const codec = goodCodecs[round % goodCodecs.length];
      const lines = Array.from({ length: 5 }, (_, i) => `good-${round}-${KCAT_CODEC[codec]}-${i}-${'x'.repeat(40)}`);
      round++;
      await kcatProduce(
        broker.bootstrapServers,
        topic,
        lines.map((l) => `k:${l}`),
        ['-p', '0', ...(codec === 0 ? [] : ['-z', KCAT_CODEC[codec]])],
      );
      good.push(...lines);
    };

    await produceGood();
    for (const codec of CODECS) {
      const name = compressionName(codec);
      for (const payload of [Buffer.concat([preamble[codec], junk]), junk]) {
        const a = await rawProduce(topic, withPayload(codec, payload));
        assert.equal(a.errorCode, ErrorCode.CORRUPT_MESSAGE, `${name} garbage: ${a.errorMessage}`);
        assert.match(a.errorMessage ?? '', new RegExp(`${name} records do not decompress`));
      }
      await produceGood();
      const bogus = withCount(encodeBatch({ compression: codec, records: records(name, 2) }), 2 ** 31 - 1);
      let a = await rawProduce(topic, bogus);
      assert.equal(a.errorCode, ErrorCode.INVALID_RECORD, `${name} 2^31-1 records: ${a.errorMessage}`);
      const fewer = withCount(encodeBatch({ compression: codec, records: records(name, 3) }), 2);
      a = await rawProduce(topic, fewer);
      assert.equal(a.errorCode, ErrorCode.INVALID_RECORD, `${name} count 2 for 3 records: ${a.errorMessage}`);
      const gap = encodeBatch({
        compression: codec,
        records: [
          { value: 'gap-0', offsetDelta: 0 },
          { value: 'gap-1', offsetDelta: 7 },
        ],
        lastOffsetDelta: 1,
      });
      a = await rawProduce(topic, gap);
      assert.equal(a.errorCode, ErrorCode.INVALID_RECORD, `${name} offset delta gap: ${a.errorMessage}`);
      assert.deepEqual(
        a.recordErrors.map((e) => e.batchIndex),
        [1],
        'record_errors name the record at fault',
      );
      await produceGood();
    }
    // Uncompressed: 2^31-1 records declared.
    const bogus = withCount(encodeBatch({ records: records('none', 2) }), 2 ** 31 - 1);
    assert.equal((await rawProduce(topic, bogus)).errorCode, ErrorCode.INVALID_RECORD);
    // A bomb: 80 MiB of zeros in a few KiB of zstd, beyond the 64 MiB default limit.
    const a = await rawProduce(topic, zstdBomb);
    assert.equal(a.errorCode, ErrorCode.MESSAGE_TOO_LARGE, `bomb: ${a.errorMessage}`);
    await produceGood();
    return good;
  }

  let zstdBomb: Buffer;
  before(() => {
    zstdBomb = encodeBatch({
      compression: Compression.ZSTD,
      records: [{ value: Buffer.alloc(80 * 1024 * 1024), timestamp: Date.now() }],
    });
    assert.ok(zstdBomb.length < 64 * 1024, `the bomb is ${zstdBomb.length} bytes`);
  });

  test('good batches of every codec around the poison: kcat and confluent-kafka-python read exactly the good records', async () => {
    const topic = uniqueTopic('poison');
    await createTopic(topic);
    const good = await poisonSequence(topic, [Compression.NONE, ...CODECS]);
    assert.equal(await highWatermark(topic), good.length, 'the high watermark counts the good records only');

    const kc = await kcatConsume(broker.bootstrapServers, topic, { partition: 0 });
    assert.deepEqual(
      kc.map((r) => r.payload),
      good,
      'kcat reads every good record, in order, and nothing else',
    );
    assert.deepEqual(
      kc.map((r) => r.offset),
      good.map((_, i) => i),
    );

    const ck = await runPy<{ consumed: { offset: number; value: string }[]; errors: unknown[] }>('ck_consume.py', [
      broker.bootstrapServers,
      topic,
      '1',
      String(good.length),
    ]);
    assert.deepEqual(ck.errors, []);
    assert.deepEqual(
      ck.consumed.map((r) => r.value),
      good,
      'confluent-kafka-python reads every good record, in order',
    );
  });

  test('good none/gzip batches (the codecs kafka-python has here) around the poison: kafka-python reads exactly the good records', async () => {
    const topic = uniqueTopic('poison-kp');
    await createTopic(topic);
    const good = await poisonSequence(topic, [Compression.NONE, Compression.GZIP]);
    assert.equal(await highWatermark(topic), good.length, 'the high watermark counts the good records only');
    const kp = await runPy<{ end: number; records: { offset: number; value: string }[]; error: string | null }>(
      'kp_consume_all.py',
      [broker.bootstrapServers, topic, '0'],
    );
    assert.equal(kp.error, null);
    assert.equal(kp.end, good.length);
    assert.deepEqual(
      kp.records.map((r) => r.value),
      good,
      'kafka-python reads every good record, in order, and nothing else',
    );
    assert.deepEqual(
      kp.records.map((r) => r.offset),
      good.map((_, i) => i),
    );
  });

  test('INVALID_TIMESTAMP names the exact 64-bit timestamp', async () => {
    const topic = uniqueTopic('poison-ts');
    await createTopic(topic);
    const b = encodeBatch({ records: [{ value: 'far future', timestamp: Date.now() }] });
    b.writeBigInt64BE(9223372036854775807n, OFF_MAX_TIMESTAMP);
    recrc(b);
    const a = await rawProduce(topic, b);
    assert.equal(a.errorCode, ErrorCode.INVALID_TIMESTAMP);
    assert.match(a.errorMessage ?? '', /Timestamp 9223372036854775807 is out of range/);
    assert.doesNotMatch(a.errorMessage ?? '', /9223372036854776000/, 'no 64-bit number is printed rounded');
  });
});
