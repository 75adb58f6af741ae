/**
 * Quota enforcement around the handlers (KIP-219): what is measured per API,
 * the throttle time written into the response and handed to the connection,
 * exemptions, KIP-599's strict refusals; and the connection reading nothing
 * for the throttle time.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pino from 'pino';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { ApiKey } from '../../../src/protocol/generated/messages.ts';
import { ANONYMOUS, userPrincipal } from '../../../src/security/principal.ts';
import { ClientQuotaManager, quotaAlterationRecords } from '../../../src/security/quotas.ts';
import type { Connection } from '../../../src/server/connection.ts';
import type { RequestContext } from '../../../src/server/dispatcher.ts';
import { QuotaThrottle } from '../../../src/server/quota-throttle.ts';
import { SocketServer } from '../../../src/server/socket-server.ts';

function setQuota(
  image: MetadataImage,
  entity: { entityType: string; entityName: string | null }[],
  key: string,
  value: number,
) {
  const r = quotaAlterationRecords(entity, [{ key, value, remove: false }]);
  assert.ok('records' in r);
  image.applyBatch(r.records, image.epoch + r.records.length);
}

function setup() {
  const image = new MetadataImage();
  const throttle = new QuotaThrottle(new ClientQuotaManager(image), image, () => 1);
  const muted: number[] = [];
  const conn = { principal: ANONYMOUS, throttle: (ms: number) => void muted.push(ms) } as unknown as Connection;
  const ctx = (apiKey: number, apiVersion: number, clientId = 'app'): RequestContext => ({
    apiKey,
    apiVersion,
    correlationId: 1,
    clientId,
    conn,
  });
  return { image, throttle, muted, ctx, conn };
}

describe('QuotaThrottle', () => {
  test('without any quota nothing is looked at', () => {
    const { throttle, ctx } = setup();
    assert.equal(throttle.begin(ctx(ApiKey.Produce, 9), {}, 1e9), null);
  });

  test('Produce: request bytes against producer_byte_rate; the response carries the throttle time, the connection is muted', () => {
    const { image, throttle, muted, ctx } = setup();
    setQuota(image, [{ entityType: 'client-id', entityName: 'app' }], 'producer_byte_rate', 1000);
    const q = throttle.begin(ctx(ApiKey.Produce, 9), {}, 5000)!;
    q.handled();
    const body: { responses: []; throttleTimeMs?: number } = { responses: [] };
    q.answered(body);
    // 5000 bytes at 1000 B/s: about 5 s
    assert.ok(body.throttleTimeMs! >= 4900 && body.throttleTimeMs! <= 5000, `throttle ${body.throttleTimeMs}`);
    assert.deepEqual(muted, [body.throttleTimeMs]);
    assert.equal(throttle.begin(ctx(ApiKey.Produce, 9, 'other-app'), {}, 5000), null, 'another client id has no quota');
    assert.equal(throttle.begin(ctx(ApiKey.Fetch, 12), { replicaId: -1 }, 5000), null, 'no consumer quota');
  });

  test('the user is the connection principal', () => {
    const { image, throttle, ctx, conn } = setup();
    setQuota(image, [{ entityType: 'user', entityName: 'alice' }], 'producer_byte_rate', 1000);
    const body: { throttleTimeMs?: number } = {};
    assert.equal(throttle.begin(ctx(ApiKey.Produce, 9), {}, 5000), null, 'ANONYMOUS has no quota');
    (conn as { principal: unknown }).principal = userPrincipal('alice');
    throttle.begin(ctx(ApiKey.Produce, 9), {}, 5000)!.answered(body);
    assert.ok(body.throttleTimeMs! > 0);
  });

  test('Fetch: record bytes of the response against consumer_byte_rate; follower fetches are exempt', () => {
    const { image, throttle, ctx, muted } = setup();
    setQuota(image, [{ entityType: 'client-id', entityName: null }], 'consumer_byte_rate', 1000);
    const follower = throttle.begin(ctx(ApiKey.Fetch, 12), { replicaId: 2 }, 100);
    assert.equal(follower, null);
    const q = throttle.begin(ctx(ApiKey.Fetch, 12), { replicaId: -1 }, 100)!;
    q.handled();
    const body = {
      throttleTimeMs: 0,
      responses: [
        {
          partitions: [
            { records: Buffer.alloc(2000) },
            { records: [Buffer.alloc(500), Buffer.alloc(500)] },
            { records: null },
          ],
        },
      ],
    };
    q.answered(body);
    assert.ok(body.throttleTimeMs >= 2900 && body.throttleTimeMs <= 3000, `throttle ${body.throttleTimeMs}`);
    assert.equal(muted.length, 1);
  });

  test('request_percentage: handler time, except for exempt APIs', () => {
    const { image, throttle, ctx } = setup();
    setQuota(image, [{ entityType: 'client-id', entityName: 'app' }], 'request_percentage', 1);
    assert.equal(throttle.begin(ctx(ApiKey.ApiVersions, 3), {}, 10), null, 'ApiVersions is not counted');
    const spin = () => {
      const until = process.hrtime.bigint() + 30_000_000n;
      while (process.hrtime.bigint() < until);
    };
    const q = throttle.begin(ctx(ApiKey.Metadata, 12), {}, 10)!;
    spin(); // 30 ms of one thread: far over 1%
    q.handled();
    const b2: { throttleTimeMs?: number } = {};
    q.answered(b2);
    assert.ok(b2.throttleTimeMs! > 0, 'throttled');
  });

  test('controller_mutation_rate, strict CreateTopics: topics asked for once the quota is used up are refused', () => {
    const { image, throttle, ctx } = setup();
    setQuota(image, [{ entityType: 'client-id', entityName: 'app' }], 'controller_mutation_rate', 2);
    const spec = (name: string) => ({ name, numPartitions: 10, replicationFactor: 1, assignments: [], configs: [] });
    const req = { topics: [spec('a'), spec('b'), spec('c')], timeoutMs: 1000, validateOnly: false };
    const q = throttle.begin(ctx(ApiKey.CreateTopics, 7), req, 100)!;
    assert.deepEqual(
      req.topics.map((t) => t.name),
      ['a'],
      'only the first reaches the handler',
    );
    q.handled();
    const body = {
      throttleTimeMs: 0,
      topics: [{ name: 'a', errorCode: ErrorCode.NONE }] as { name: string; errorCode: number }[],
    };
    q.answered(body);
    assert.deepEqual(
      body.topics.map((t) => [t.name, t.errorCode]),
      [
        ['a', ErrorCode.NONE],
        ['b', ErrorCode.THROTTLING_QUOTA_EXCEEDED],
        ['c', ErrorCode.THROTTLING_QUOTA_EXCEEDED],
      ],
    );
    assert.ok(body.throttleTimeMs > 0);
    // v5 (before KIP-599): done, only throttled
    const old = { topics: [spec('d'), spec('e')], timeoutMs: 1000, validateOnly: false };
    const q2 = throttle.begin(ctx(ApiKey.CreateTopics, 5), old, 100)!;
    assert.equal(old.topics.length, 2);
    const b2 = { throttleTimeMs: 0, topics: [] as object[] };
    q2.answered(b2);
    assert.equal(b2.topics.length, 0, 'nothing added');
    assert.ok(b2.throttleTimeMs > 0);
  });
});

describe('Connection.throttle', () => {
  test('a throttled connection reads nothing more for the throttle time', async () => {
    const server = new SocketServer(
      {
        host: '127.0.0.1',
        port: 0,
        maxConnections: 10,
        maxFrameBytes: 1024,
        idleTimeoutMs: 0,
        maxInFlightPerConnection: 4,
        logger: pino({ level: 'silent' }),
      },
      (frame, conn) => {
        if (frame.toString() === 'mute') conn.throttle(300);
        return [Buffer.from(frame)];
      },
    );
    const { port } = await server.listen();
    server.open();
    const sock = net.connect({ host: '127.0.0.1', port });
    try {
      const frame = (s: string) => {
        const b = Buffer.alloc(4 + s.length);
        b.writeInt32BE(s.length, 0);
        b.write(s, 4);
        return b;
      };
      const arrivals: [string, number][] = [];
      let buf = Buffer.alloc(0);
      const both = new Promise<void>((resolve) =>
        sock.on('data', (d) => {
          buf = Buffer.concat([buf, d]);
          while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
            const n = buf.readInt32BE(0);
            arrivals.push([buf.subarray(4, 4 + n).toString(), Date.now()]);
            buf = buf.subarray(4 + n);
          }
          if (arrivals.length === 2) resolve();
        }),
      );
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write(Buffer.concat([frame('mute'), frame('next')]));
      await both;
      assert.deepEqual(
        arrivals.map((a) => a[0]),
        ['mute', 'next'],
      );
      const gap = arrivals[1][1] - arrivals[0][1];
      assert.ok(gap >= 290, `the next request was answered ${gap} ms after the throttled one`);
    } finally {
      sock.destroy();
      await server.close(100);
    }
  });
});
