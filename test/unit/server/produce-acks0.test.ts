/**
 * Produce with acks=0 gets no response; when it fails (refused by the ACLs,
 * unknown topic, batch too large, ...) the broker closes the connection, as
 * Kafka does, so that the client learns of it. A successful one leaves the
 * connection open. Raw wire frames (test/helpers/wire.ts); principals are set
 * from the client id by wrapping the dispatcher (as acl-enforcement.test.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { Connection } from '../../../src/client/connection.ts';
import { loadBrokerConfig } from '../../../src/config/broker-config.ts';
import { ANONYMOUS, userPrincipal } from '../../../src/security/principal.ts';
import { type RunningBroker, startBroker } from '../../../src/server/index.ts';
import {
  metadataV1Body,
  parseProduceV3,
  produceV3Body,
  recordBatch,
  requestFrame,
  WireConn,
} from '../../helpers/wire.ts';

let b: RunningBroker;
let dir: string;
const open: WireConn[] = [];
let admin: Connection;

function clientIdOf(frame: Buffer): string | null {
  if (frame.length < 10) return null;
  const len = frame.readInt16BE(8);
  return len < 0 || frame.length < 10 + len ? null : frame.toString('utf8', 10, 10 + len);
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-acks0-'));
  const config = loadBrokerConfig({
    overrides: {
      listeners: 'PLAINTEXT://127.0.0.1:0',
      'log.dirs': dir,
      'num.partitions': '1',
      'auto.create.topics.enable': 'false',
      'message.max.bytes': '1024',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:admin',
    },
  });
  b = await startBroker({ config, logger: pino({ level: 'silent' }) });
  const d = b.broker.dispatcher;
  const handle = d.handle.bind(d);
  d.handle = (frame, conn) => {
    const id = clientIdOf(frame);
    conn.principal = id?.startsWith('as:') ? userPrincipal(id.slice(3)) : ANONYMOUS;
    return handle(frame, conn);
  };
  admin = new Connection({ host: b.host, port: b.port, clientId: 'as:admin', requestTimeoutMs: 60_000 });
  await admin.connect();
  const r = await admin.send('CreateTopics', {
    topics: [{ name: 'events', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  assert.equal(r.topics[0].errorCode, 0);
});

after(async () => {
  for (const c of open) c.destroy();
  await admin?.close();
  await b?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function wire(): Promise<WireConn> {
  const c = await WireConn.open(b.host, b.port);
  open.push(c);
  return c;
}

function small(): Buffer {
  return recordBatch([{ key: null, value: Buffer.from('fire and forget') }]);
}

/** Produce v3 with acks=0 as `user`, then a Metadata request on the same connection. */
async function produceAcks0(c: WireConn, user: string, topic: string, batch: Buffer): Promise<void> {
  await c.write(requestFrame(0, 3, 1, produceV3Body(topic, 0, batch, 0), { clientId: `as:${user}` }));
  await c.write(requestFrame(3, 1, 2, metadataV1Body([topic]), { clientId: `as:${user}` }));
}

test('a successful acks=0 produce gets no response and the connection stays open', async () => {
  const c = await wire();
  await produceAcks0(c, 'admin', 'events', small());
  const f = await c.next(30_000);
  assert.ok(f, 'the connection was closed');
  assert.equal(f.readInt32BE(0), 2, 'the first response is the Metadata one (the produce got none)');
  assert.equal(c.closed, false);
  const log = b.broker.replicas.get('events', 0)!.log;
  assert.equal(log.logEndOffset, 1, 'the record was appended');
});

test('an acks=0 produce to an unknown topic closes the connection', async () => {
  const c = await wire();
  await produceAcks0(c, 'admin', 'no-such-topic', small());
  await c.expectClose(30_000);
});

test('an acks=0 produce of a batch above message.max.bytes closes the connection', async () => {
  const c = await wire();
  await produceAcks0(c, 'admin', 'events', recordBatch([{ key: null, value: Buffer.alloc(4096, 1) }]));
  await c.expectClose(30_000);
});

test('an acks=0 produce refused by the ACLs closes the connection', async () => {
  const before = b.broker.replicas.get('events', 0)!.log.logEndOffset;
  const c = await wire();
  await produceAcks0(c, 'mallory', 'events', small());
  await c.expectClose(30_000);
  assert.equal(b.broker.replicas.get('events', 0)!.log.logEndOffset, before, 'nothing was appended');
});

test('an acks=1 produce that fails is answered and the connection stays open', async () => {
  const c = await wire();
  await c.write(requestFrame(0, 3, 7, produceV3Body('no-such-topic', 0, small(), 1), { clientId: 'as:admin' }));
  await c.write(requestFrame(0, 3, 8, produceV3Body('events', 0, small(), 1), { clientId: 'as:mallory' }));
  for (const id of [7, 8]) {
    const f = await c.next(30_000);
    assert.ok(f, 'the connection was closed');
    assert.equal(f.readInt32BE(0), id);
    assert.equal(parseProduceV3(f).topics[0].partitions[0].errorCode, id === 7 ? 3 : 29);
  }
  assert.equal(c.closed, false);
});
