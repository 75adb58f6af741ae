/**
 * BrokerRegistration (62), BrokerHeartbeat (63) and UnregisterBroker (64):
 * frames assembled byte by byte from the layout of Kafka's message
 * definitions (flexible versions: compact strings and arrays, unsigned
 * varint lengths plus one, a tagged-field section after every struct) decode
 * to the declared fields and encode back to the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiByName } from '../../../src/protocol/apis.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import { Writer } from '../../../src/protocol/writer.ts';

const i16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const i32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const i64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return [...b];
};
/** A compact string: uvarint(length + 1), then the bytes (all lengths here are below 127). */
const cstr = (s: string) => [s.length + 1, ...Buffer.from(s)];
const uuidBytes = (fill: number) => Array.from({ length: 16 }, (_, i) => (fill + i) & 0xff);
const uuidText = (fill: number) => Buffer.from(uuidBytes(fill)).toString('base64url');

function roundTrip(
  name: 'BrokerRegistration' | 'BrokerHeartbeat' | 'UnregisterBroker',
  dir: 'request' | 'response',
  v: number,
  bytes: number[],
) {
  const api = apiByName(name);
  const frame = Buffer.from(bytes);
  const dec = dir === 'request' ? api.requestDecoder(v) : api.responseDecoder(v);
  const enc = dir === 'request' ? api.requestEncoder(v) : api.responseEncoder(v);
  const r = new Reader(frame);
  const value = dec(r);
  assert.equal(r.pos, frame.length, 'the whole frame is read');
  const w = new Writer(64);
  enc(w, value);
  assert.deepEqual(w.toBuffer(), frame, 're-encoded byte for byte');
  return value as any;
}

test('the lifecycle APIs have Kafka keys and version ranges', () => {
  assert.deepEqual(
    (['BrokerRegistration', 'BrokerHeartbeat', 'UnregisterBroker'] as const).map((n) => {
      const a = apiByName(n);
      return [a.key, a.minVersion, a.maxVersion];
    }),
    [
      [62, 0, 4],
      [63, 0, 1],
      [64, 0, 0],
    ],
  );
});

test('BrokerRegistrationRequest v3: listeners, features, rack, log dirs and the previous broker epoch', () => {
  const req = roundTrip('BrokerRegistration', 'request', 3, [
    ...i32(2), // brokerId
    ...cstr('cid'), // clusterId
    ...uuidBytes(1), // incarnationId
    2, // listeners: 1 entry
    ...cstr('PLAINTEXT'),
    ...cstr('h2'),
    ...i16(9093), // port (uint16)
    ...i16(0), // securityProtocol PLAINTEXT
    0, // listener tags
    2, // features: 1 entry
    ...cstr('metadata.version'),
    ...i16(1),
    ...i16(21),
    0, // feature tags
    0, // rack: null (compact nullable: 0)
    1, // isMigratingZkBroker (v1+)
    2, // logDirs (v2+): 1 uuid
    ...uuidBytes(40),
    ...i64(17), // previousBrokerEpoch (v3+)
    0, // top-level tags
  ]);
  assert.equal(req.brokerId, 2);
  assert.equal(req.clusterId, 'cid');
  assert.equal(req.incarnationId, uuidText(1));
  assert.deepEqual(
    req.listeners.map((l: any) => [l.name, l.host, l.port, l.securityProtocol]),
    [['PLAINTEXT', 'h2', 9093, 0]],
  );
  assert.deepEqual(
    req.features.map((f: any) => [f.name, f.minSupportedVersion, f.maxSupportedVersion]),
    [['metadata.version', 1, 21]],
  );
  assert.equal(req.rack, null);
  assert.equal(req.isMigratingZkBroker, true);
  assert.deepEqual(req.logDirs, [uuidText(40)]);
  assert.equal(Number(req.previousBrokerEpoch), 17);
});

test('BrokerRegistrationRequest v0 has no ZK flag, log dirs or previous epoch (their defaults)', () => {
  const req = roundTrip('BrokerRegistration', 'request', 0, [
    ...i32(1),
    ...cstr('c'),
    ...uuidBytes(7),
    1, // no listeners
    1, // no features
    ...cstr('r1'), // rack
    0,
  ]);
  assert.equal(req.rack, 'r1');
  assert.equal(req.isMigratingZkBroker, false);
  assert.deepEqual(req.logDirs, []);
  assert.equal(Number(req.previousBrokerEpoch), -1);
});

test('BrokerRegistrationResponse: throttle, error, broker epoch', () => {
  const res = roundTrip('BrokerRegistration', 'response', 4, [...i32(0), ...i16(101), ...i64(-1), 0]);
  assert.equal(res.errorCode, 101);
  assert.equal(Number(res.brokerEpoch), -1);
  const ok = roundTrip('BrokerRegistration', 'response', 4, [...i32(5), ...i16(0), ...i64(4242), 0]);
  assert.equal(ok.throttleTimeMs, 5);
  assert.equal(Number(ok.brokerEpoch), 4242);
});

test('BrokerHeartbeatRequest v1 carries offline log dirs as tagged field 0; v0 has no such tag', () => {
  const body = [...i32(3), ...i64(100), ...i64(250), 0, 1];
  const v1 = roundTrip('BrokerHeartbeat', 'request', 1, [
    ...body,
    1, // one tagged field
    0, // tag 0
    17, // size: compact array length byte + one uuid
    2,
    ...uuidBytes(9),
  ]);
  assert.equal(v1.brokerId, 3);
  assert.equal(Number(v1.brokerEpoch), 100);
  assert.equal(Number(v1.currentMetadataOffset), 250);
  assert.equal(v1.wantFence, false);
  assert.equal(v1.wantShutDown, true);
  assert.deepEqual(v1.offlineLogDirs, [uuidText(9)]);
  const v0 = roundTrip('BrokerHeartbeat', 'request', 0, [...body, 0]);
  assert.deepEqual(v0.offlineLogDirs, []);
  // v1 with no offline dirs writes no tag at all (the default is left out)
  roundTrip('BrokerHeartbeat', 'request', 1, [...body, 0]);
});

test('BrokerHeartbeatResponse: caught up, fenced, should shut down', () => {
  const res = roundTrip('BrokerHeartbeat', 'response', 1, [...i32(0), ...i16(0), 1, 0, 1, 0]);
  assert.deepEqual([res.isCaughtUp, res.isFenced, res.shouldShutDown, res.errorCode], [true, false, true, 0]);
  // Kafka's default for isFenced is true: an encoder given nothing writes a fenced answer.
  const w = new Writer(16);
  apiByName('BrokerHeartbeat').responseEncoder(0)(w, { errorCode: 77 });
  assert.deepEqual(w.toBuffer(), Buffer.from([...i32(0), ...i16(77), 0, 1, 0, 0]));
});

test('UnregisterBroker request and response (with and without a message)', () => {
  assert.equal(roundTrip('UnregisterBroker', 'request', 0, [...i32(4), 0]).brokerId, 4);
  const res = roundTrip('UnregisterBroker', 'response', 0, [...i32(0), ...i16(102), ...cstr('gone'), 0]);
  assert.equal(res.errorCode, 102);
  assert.equal(res.errorMessage, 'gone');
  assert.equal(roundTrip('UnregisterBroker', 'response', 0, [...i32(0), ...i16(0), 0, 0]).errorMessage, null);
});
