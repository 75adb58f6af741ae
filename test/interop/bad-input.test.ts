/**
 * Hostile and broken clients on raw sockets. The broker must answer what
 * Kafka answers (UNSUPPORTED_VERSION for ApiVersions, CORRUPT_MESSAGE for a
 * bad CRC), close connections it cannot parse (truncated or oversized frames,
 * negative array lengths, unknown API keys), and never let one client's
 * garbage or unread responses hurt another client or its own memory.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import {
  startTestBroker,
  startChildBroker,
  uniqueTopic,
  sleep,
  type TestBroker,
  type ChildBroker,
} from '../helpers/broker.ts';
import {
  W,
  WireConn,
  requestFrame,
  recordBatch,
  produceV3Body,
  parseProduceV3,
  parseApiVersionsV0,
  metadataV1Body,
  fetchV4Body,
  parseFetchV4Head,
  BATCH_CRC_OFFSET,
} from '../helpers/wire.ts';

const API_PRODUCE = 0;
const API_FETCH = 1;
const API_METADATA = 3;
const API_VERSIONS = 18;
const CORRUPT_MESSAGE = 2;
const UNSUPPORTED_VERSION = 35;

async function createTopic(b: TestBroker, topic: string, partitions = 1) {
  const admin = new Kafka({ brokers: [b.bootstrapServers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** The broker still answers a well-formed ApiVersions v0 on a fresh connection. */
async function assertServes(b: TestBroker) {
  const c = await WireConn.open(b.host, b.port);
  try {
    const resp = parseApiVersionsV0(await c.request(API_VERSIONS, 0, 4242, Buffer.alloc(0)));
    assert.equal(resp.correlationId, 4242);
    assert.equal(resp.errorCode, 0);
    assert.ok(resp.apis.some((a) => a.key === API_PRODUCE));
  } finally {
    c.destroy();
  }
}

describe('bad input on raw sockets', () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
  });
  after(async () => {
    await broker?.close();
  });

  test('ApiVersions with an unsupported version: UNSUPPORTED_VERSION (35) and the version list, in a v0 response', async () => {
    const c = await WireConn.open(broker.host, broker.port);
    try {
      // a future flexible version: the broker cannot parse the body, but must still answer in v0 form
      const body = new W().compactString('future-client').compactString('9.9').emptyTags().build();
      const f = await c.request(API_VERSIONS, 127, 77, body, { flexibleHeader: true });
      const resp = parseApiVersionsV0(f);
      assert.equal(resp.correlationId, 77);
      assert.equal(resp.errorCode, UNSUPPORTED_VERSION);
      const av = resp.apis.find((a) => a.key === API_VERSIONS);
      assert.ok(av, 'the list includes ApiVersions itself');
      assert.equal(av!.min, 0);
      assert.ok(av!.max >= 3);
      assert.ok(resp.apis.some((a) => a.key === API_PRODUCE && a.max >= 3));
      assert.ok(resp.apis.some((a) => a.key === API_FETCH && a.max >= 4));
      assert.ok(resp.apis.some((a) => a.key === API_METADATA && a.max >= 1));
      // the connection stays usable: a supported ApiVersions right after
      const ok = parseApiVersionsV0(await c.request(API_VERSIONS, 0, 78, Buffer.alloc(0)));
      assert.equal(ok.correlationId, 78);
      assert.equal(ok.errorCode, 0);
    } finally {
      c.destroy();
    }
  });

  test('a truncated frame (size says 100, 10 bytes then EOF) is dropped; the broker keeps serving', async () => {
    const c = await WireConn.open(broker.host, broker.port);
    const full = requestFrame(API_METADATA, 1, 1, metadataV1Body(null));
    const bogus = Buffer.concat([new W().int32(100).build(), full.subarray(4, 14)]);
    await c.write(bogus);
    c.socket.end(); // half-close: no more bytes will come
    await c.expectClose();
    await assertServes(broker);
  });

  test('a frame whose body ends mid-field closes the connection without a response', async () => {
    const c = await WireConn.open(broker.host, broker.port);
    // Metadata v1 claiming 5 topics, carrying one and a half
    const body = new W().int32(5).string('abc').int16(40).raw(Buffer.from('xy')).build();
    await c.write(requestFrame(API_METADATA, 1, 2, body));
    await c.expectClose();
    await assertServes(broker);
  });

  for (const size of [0x7fffffff, -0x80000000, -1]) {
    test(`a length prefix of ${size} closes the connection without allocating it`, async () => {
      const before = process.memoryUsage().rss;
      const c = await WireConn.open(broker.host, broker.port);
      await c.write(Buffer.concat([new W().int32(size).build(), Buffer.alloc(64, 0x41)]));
      await c.expectClose();
      await assertServes(broker);
      // nothing near 2 GiB was allocated for it (the broker runs in this process)
      assert.ok(process.memoryUsage().rss - before < 256 * 1024 * 1024);
    });
  }

  test('negative array lengths close the connection', async () => {
    // Metadata v1: topics = -5 (only -1 means null)
    let c = await WireConn.open(broker.host, broker.port);
    await c.write(requestFrame(API_METADATA, 1, 3, new W().int32(-5).build()));
    await c.expectClose();
    // Produce v3 with partitions = -2
    c = await WireConn.open(broker.host, broker.port);
    await c.write(
      requestFrame(
        API_PRODUCE,
        3,
        4,
        new W().string(null).int16(-1).int32(1000).int32(1).string('x').int32(-2).build(),
      ),
    );
    await c.expectClose();
    // Produce v3 with topics = -1000000
    c = await WireConn.open(broker.host, broker.port);
    await c.write(
      requestFrame(API_PRODUCE, 3, 5, new W().string(null).int16(-1).int32(1000).int32(-1_000_000).build()),
    );
    await c.expectClose();
    await assertServes(broker);
  });

  test('an unknown API key closes the connection', async () => {
    const c = await WireConn.open(broker.host, broker.port);
    await c.write(requestFrame(32000, 0, 6, Buffer.alloc(8)));
    await c.expectClose();
    const c2 = await WireConn.open(broker.host, broker.port);
    await c2.write(requestFrame(-7, 0, 6, Buffer.alloc(8)));
    await c2.expectClose();
    await assertServes(broker);
  });

  test('Produce with a corrupt CRC gets CORRUPT_MESSAGE and appends nothing; the intact batch is accepted', async () => {
    const topic = uniqueTopic('crc');
    await createTopic(broker, topic);
    const c = await WireConn.open(broker.host, broker.port);
    try {
      const batch = recordBatch([
        { key: Buffer.from('k1'), value: Buffer.from('hello'), headers: [['h', Buffer.from('v')]] },
        { key: null, value: Buffer.from('world'), timestampDelta: 3 },
      ]);
      const good = parseProduceV3(await c.request(API_PRODUCE, 3, 10, produceV3Body(topic, 0, batch)));
      assert.equal(good.correlationId, 10);
      assert.equal(good.topics[0].partitions[0].errorCode, 0);
      assert.equal(good.topics[0].partitions[0].baseOffset, 0n);

      // flip one byte of a record value (covered by the CRC)
      const flipped = Buffer.from(batch);
      flipped[flipped.length - 3] ^= 0x20;
      let resp = parseProduceV3(await c.request(API_PRODUCE, 3, 11, produceV3Body(topic, 0, flipped)));
      assert.equal(resp.correlationId, 11);
      assert.equal(resp.topics[0].partitions[0].errorCode, CORRUPT_MESSAGE);

      // a wrong CRC field on intact contents
      const badCrc = Buffer.from(batch);
      badCrc.writeUInt32BE((badCrc.readUInt32BE(BATCH_CRC_OFFSET) ^ 0xdeadbeef) >>> 0, BATCH_CRC_OFFSET);
      resp = parseProduceV3(await c.request(API_PRODUCE, 3, 12, produceV3Body(topic, 0, badCrc)));
      assert.equal(resp.topics[0].partitions[0].errorCode, CORRUPT_MESSAGE);

      // nothing of the corrupt batches was appended: the next good batch lands at offset 2
      const again = parseProduceV3(await c.request(API_PRODUCE, 3, 13, produceV3Body(topic, 0, batch)));
      assert.equal(again.topics[0].partitions[0].errorCode, 0);
      assert.equal(again.topics[0].partitions[0].baseOffset, 2n);
    } finally {
      c.destroy();
    }
  });

  test('Produce with a batch length that overruns the records field is rejected, not appended', async () => {
    const topic = uniqueTopic('overrun');
    await createTopic(broker, topic);
    const c = await WireConn.open(broker.host, broker.port);
    try {
      const batch = recordBatch([{ key: null, value: Buffer.from('x'.repeat(100)) }]);
      const lying = Buffer.from(batch);
      lying.writeInt32BE(lying.readInt32BE(8) + 1000, 8); // batchLength beyond the bytes sent
      await c.write(requestFrame(API_PRODUCE, 3, 20, produceV3Body(topic, 0, lying)));
      const f = await c.next();
      if (f !== undefined) {
        const resp = parseProduceV3(f);
        assert.equal(resp.correlationId, 20);
        assert.notEqual(
          resp.topics[0].partitions[0].errorCode,
          0,
          'a batch overrunning its field must not be accepted',
        );
      }
    } finally {
      c.destroy();
    }
    // the partition is still empty and writable
    const c2 = await WireConn.open(broker.host, broker.port);
    try {
      const ok = parseProduceV3(
        await c2.request(
          API_PRODUCE,
          3,
          21,
          produceV3Body(topic, 0, recordBatch([{ key: null, value: Buffer.from('ok') }])),
        ),
      );
      assert.equal(ok.topics[0].partitions[0].errorCode, 0);
      assert.equal(ok.topics[0].partitions[0].baseOffset, 0n);
    } finally {
      c2.destroy();
    }
  });
});

describe('a client that never reads', () => {
  let broker: ChildBroker;
  before(async () => {
    broker = await startChildBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
  });
  after(async () => {
    await broker?.close();
  });

  test('pipelined Fetch/Metadata without reading: other clients are served, memory stays bounded', async (t) => {
    const topic = uniqueTopic('slow');
    await createTopic(broker, topic);
    // ~1 MiB of data in the partition, so every Fetch response is ~1 MiB
    {
      const c = await WireConn.open(broker.host, broker.port);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      for (let i = 0; i < 16; i++) {
        const r = parseProduceV3(
          await c.request(API_PRODUCE, 3, 100 + i, produceV3Body(topic, 0, recordBatch([{ key: null, value: chunk }]))),
        );
        assert.equal(r.topics[0].partitions[0].errorCode, 0);
      }
      c.destroy();
    }
    await sleep(500); // RSS has no event to wait for: a pause lets the produce requests' memory settle before the baseline
    const rssBefore = broker.rssKiB();
    assert.ok(rssBefore > 0, 'can read the broker RSS');

    const slow = await WireConn.open(broker.host, broker.port);
    slow.socket.pause(); // never read
    const REQUESTS = 400; // ~400 MiB of responses if the broker buffered them all
    const burst: Buffer[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      burst.push(
        i % 4 === 3
          ? requestFrame(API_METADATA, 1, 1000 + i, metadataV1Body(null))
          : requestFrame(API_FETCH, 4, 1000 + i, fetchV4Body(topic, 0, 0n, 2 * 1024 * 1024)),
      );
    }
    slow.socket.write(Buffer.concat(burst));

    // while that connection is stuck, another client is served normally, repeatedly
    let peak = rssBefore;
    for (let round = 0; round < 5; round++) {
      await sleep(400); // the measurement: RSS sampled over ~2 s while the broker holds the stuck connection
      const other = await WireConn.open(broker.host, broker.port);
      try {
        const av = parseApiVersionsV0(await other.request(API_VERSIONS, 0, 1, Buffer.alloc(0)));
        assert.equal(av.errorCode, 0);
        const f = parseFetchV4Head(await other.request(API_FETCH, 4, 2, fetchV4Body(topic, 0, 0n, 1024)));
        assert.equal(f.correlationId, 2);
        assert.equal(f.errorCode, 0);
        assert.equal(f.highWatermark, 16n);
      } finally {
        other.destroy();
      }
      assert.ok(broker.alive(), 'broker process alive');
      peak = Math.max(peak, broker.rssKiB());
    }
    const growthMiB = (peak - rssBefore) / 1024;
    t.diagnostic(
      `broker RSS ${(rssBefore / 1024).toFixed(0)} MiB before, peak ${(peak / 1024).toFixed(0)} MiB while the slow client was stuck`,
    );
    assert.ok(
      growthMiB < 160,
      `broker RSS grew by ${growthMiB.toFixed(0)} MiB with one client not reading ~${REQUESTS} MiB of responses`,
    );
    slow.destroy();
    // after the slow client went away the broker still answers
    const later = await WireConn.open(broker.host, broker.port);
    try {
      assert.equal(parseApiVersionsV0(await later.request(API_VERSIONS, 0, 1, Buffer.alloc(0))).errorCode, 0);
    } finally {
      later.destroy();
    }
    assert.ok(broker.alive());
  });
});
