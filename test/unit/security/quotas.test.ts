/**
 * Client quotas: Kafka's eight-level precedence and the sensor each level
 * measures for, the windowed rate sensor and its throttle time (KIP-219),
 * AlterClientQuotas validation, DescribeClientQuotas filters, and the image
 * keeping quotas through a snapshot.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataImage } from '../../../src/metadata/image.ts';
import type { ClientQuotaRecord } from '../../../src/metadata/records.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import {
  ClientQuotaManager,
  describeQuotas,
  quotaAlterationRecords,
  RateSensor,
  resolveQuota,
} from '../../../src/security/quotas.ts';

type Ent = { entityType: string; entityName: string | null }[];
const U = (n: string | null) => ({ entityType: 'user', entityName: n });
const C = (n: string | null) => ({ entityType: 'client-id', entityName: n });

function set(image: MetadataImage, entity: Ent, key: string, value: number): void {
  const r = quotaAlterationRecords(entity, [{ key, value, remove: false }]);
  assert.ok('records' in r, JSON.stringify(r));
  image.applyBatch(r.records, image.epoch + r.records.length);
}

function remove(image: MetadataImage, entity: Ent, key: string): void {
  const r = quotaAlterationRecords(entity, [{ key, value: 0, remove: true }]);
  assert.ok('records' in r);
  image.applyBatch(r.records, image.epoch + r.records.length);
}

describe('quota precedence (Kafka DefaultQuotaCallback order)', () => {
  // The eight levels, most specific first, each with a distinct value.
  const levels: [Ent, number][] = [
    [[U('alice'), C('app')], 1],
    [[U('alice'), C(null)], 2],
    [[U('alice')], 3],
    [[U(null), C('app')], 4],
    [[U(null), C(null)], 5],
    [[U(null)], 6],
    [[C('app')], 7],
    [[C(null)], 8],
  ];

  test('each level wins over every level below it, and removing it uncovers the next', () => {
    const image = new MetadataImage();
    for (const [e, v] of levels) set(image, e, 'producer_byte_rate', v);
    for (let i = 0; i < levels.length; i++) {
      assert.equal(resolveQuota(image, 'producer_byte_rate', 'alice', 'app')?.bound, i + 1, `level ${i + 1}`);
      remove(image, levels[i][0], 'producer_byte_rate');
    }
    assert.equal(resolveQuota(image, 'producer_byte_rate', 'alice', 'app'), null);
    assert.equal(image.clientQuotas.size, 0, 'entities with no quota left are dropped');
  });

  test('the level that applies is chosen per quota key', () => {
    const image = new MetadataImage();
    set(image, [U('alice')], 'producer_byte_rate', 100);
    set(image, [C('app')], 'consumer_byte_rate', 200);
    assert.equal(resolveQuota(image, 'producer_byte_rate', 'alice', 'app')?.bound, 100);
    assert.equal(resolveQuota(image, 'consumer_byte_rate', 'alice', 'app')?.bound, 200);
    assert.equal(resolveQuota(image, 'request_percentage', 'alice', 'app'), null);
  });

  test('a default entity gives each name its own sensor; a named entity one for all its clients', () => {
    const image = new MetadataImage();
    set(image, [U(null)], 'producer_byte_rate', 10);
    const a = resolveQuota(image, 'producer_byte_rate', 'alice', 'x')!;
    const b = resolveQuota(image, 'producer_byte_rate', 'bob', 'x')!;
    const a2 = resolveQuota(image, 'producer_byte_rate', 'alice', 'y')!;
    assert.notEqual(a.sensorKey, b.sensorKey, 'alice and bob measured apart');
    assert.equal(a.sensorKey, a2.sensorKey, "a user quota covers all of the user's client ids");
    set(image, [C(null)], 'consumer_byte_rate', 10);
    const c1 = resolveQuota(image, 'consumer_byte_rate', 'alice', 'x')!;
    const c2 = resolveQuota(image, 'consumer_byte_rate', 'bob', 'x')!;
    assert.equal(c1.sensorKey, c2.sensorKey, 'a client-id quota covers that client id whatever the user');
  });

  test('quotas survive the image written as a snapshot and read back', () => {
    const image = new MetadataImage();
    set(image, [U('alice'), C(null)], 'request_percentage', 12.5);
    set(image, [C('app')], 'consumer_byte_rate', 4096);
    const copy = new MetadataImage();
    copy.applyBatch(image.toRecords(), 10);
    assert.equal(resolveQuota(copy, 'request_percentage', 'alice', 'zzz')?.bound, 12.5);
    assert.equal(resolveQuota(copy, 'consumer_byte_rate', 'bob', 'app')?.bound, 4096);
    const replaced = new MetadataImage();
    set(replaced, [U('old')], 'producer_byte_rate', 1);
    replaced.replaceWith(image.toRecords(), 20);
    assert.equal(resolveQuota(replaced, 'producer_byte_rate', 'old', ''), null);
    assert.equal(resolveQuota(replaced, 'consumer_byte_rate', 'x', 'app')?.bound, 4096);
  });
});

describe('AlterClientQuotas validation', () => {
  const bad = (entity: Ent, ops: { key: string; value: number; remove: boolean }[]) => {
    const r = quotaAlterationRecords(entity, ops);
    assert.ok('errorCode' in r, 'refused');
    assert.equal(r.errorCode, ErrorCode.INVALID_REQUEST);
    return r.errorMessage;
  };
  test('refuses empty, duplicate and unknown entities, keys of the other kind of entity, fractional byte rates', () => {
    bad([], [{ key: 'producer_byte_rate', value: 1, remove: false }]);
    bad([U('a'), U('b')], [{ key: 'producer_byte_rate', value: 1, remove: false }]);
    bad([{ entityType: 'group', entityName: 'g' }], [{ key: 'producer_byte_rate', value: 1, remove: false }]);
    bad([{ entityType: 'ip', entityName: '1.2.3.4' }], [{ key: 'producer_byte_rate', value: 1, remove: false }]);
    bad(
      [{ entityType: 'ip', entityName: 'not-an-ip' }],
      [{ key: 'connection_creation_rate', value: 1, remove: false }],
    );
    bad(
      [{ entityType: 'ip', entityName: null }, U('a')],
      [{ key: 'connection_creation_rate', value: 1, remove: false }],
    );
    bad([U('a')], [{ key: 'connection_creation_rate', value: 1, remove: false }]);
    assert.match(bad([U('a')], [{ key: 'bogus', value: 1, remove: false }]), /bogus/);
    assert.match(bad([U('a')], [{ key: 'producer_byte_rate', value: 1.5, remove: false }]), /whole/);
    bad(
      [U('a')],
      [
        { key: 'request_percentage', value: 1, remove: false },
        { key: 'request_percentage', value: 2, remove: false },
      ],
    );
  });
  test('accepts fractional request_percentage and controller_mutation_rate; entity order does not matter', () => {
    const r = quotaAlterationRecords(
      [C('app'), U('a')],
      [
        { key: 'request_percentage', value: 0.5, remove: false },
        { key: 'controller_mutation_rate', value: 2.5, remove: false },
        { key: 'producer_byte_rate', value: 0, remove: true },
      ],
    );
    assert.ok('records' in r);
    assert.equal(r.records.length, 3);
    assert.deepEqual(
      r.records.map((x: ClientQuotaRecord) => x.entity.map((e) => e.entityType)),
      [
        ['client-id', 'user'],
        ['client-id', 'user'],
        ['client-id', 'user'],
      ],
    );
  });
});

describe('DescribeClientQuotas filters', () => {
  const image = new MetadataImage();
  set(image, [U('alice')], 'producer_byte_rate', 1);
  set(image, [U(null)], 'producer_byte_rate', 2);
  set(image, [U('alice'), C('app')], 'producer_byte_rate', 3);
  set(image, [C('app')], 'producer_byte_rate', 4);
  const values = (components: { entityType: string; matchType: number; match: string | null }[], strict: boolean) => {
    const r = describeQuotas(image, components, strict);
    assert.ok('entries' in r);
    return r.entries.map((e) => e.values.get('producer_byte_rate')).sort();
  };
  test('exact, default and any matches; strict leaves out entities with more types', () => {
    assert.deepEqual(values([], false), [1, 2, 3, 4]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 0, match: 'alice' }], false), [1, 3]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 0, match: 'alice' }], true), [1]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 1, match: null }], true), [2]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 2, match: null }], true), [1, 2]);
    assert.deepEqual(values([{ entityType: 'client-id', matchType: 2, match: null }], false), [3, 4]);
  });
  test('an invalid filter is an error, not an empty answer', () => {
    assert.ok('errorMessage' in describeQuotas(image, [{ entityType: 'nope', matchType: 0, match: 'x' }], false));
    assert.ok('errorMessage' in describeQuotas(image, [{ entityType: 'user', matchType: 0, match: null }], false));
  });
});

describe('RateSensor (Kafka Rate over SampledStat)', () => {
  test('a new sensor measures over the time it has had, so its first bytes are paid for at the rate', () => {
    const s = new RateSensor(11, 1000, 0);
    s.record(10_000, 0);
    assert.equal(s.windowSizeMs(0), 1, 'at least 1 ms');
    assert.equal(s.throttleMs(1000, 0), 9999, '10 000 bytes at 1000/s: held back 10 s (less the 1 ms counted)');
    assert.equal(s.windowSizeMs(2500), 2500, 'its age');
    assert.equal(s.rate(2500), 4000);
    assert.equal(s.windowSizeMs(9999), 9999);
    assert.equal(s.windowSizeMs(10_500), 10_500, 'then the elapsed time');
  });

  test('a sensor idle for longer than its windows measures a burst over samples-1 windows (as Kafka)', () => {
    const s = new RateSensor(11, 1000, 0);
    s.record(1, 0);
    s.record(10_000, 60_000);
    assert.equal(s.windowSizeMs(60_000), 10_000);
    assert.equal(s.rate(60_000), 1000);
  });

  test('samples older than the whole window set stop counting', () => {
    const s = new RateSensor(3, 1000, 0);
    s.record(3000, 0);
    assert.equal(s.rate(2000), 1500, '3000 over the 2 s the sensor has had');
    s.record(0, 3500);
    assert.equal(s.rate(3500), 0);
  });

  test('throttle time: (rate - quota) / quota x window, capped at the window set, 0 within the quota', () => {
    const s = new RateSensor(11, 1000, 0);
    const t = 20_000; // old enough: measured over 10 s at least
    s.record(1000, t); // rate 100/s over 10 s
    assert.equal(s.throttleMs(100, t), 0, 'at the quota: not throttled');
    s.record(1000, t); // rate 200/s
    assert.equal(s.throttleMs(100, t), 10_000, '(200 - 100) / 100 x 10 s');
    assert.equal(s.throttleMs(150, t), Math.round((50 / 150) * 10_000));
    s.record(1_000_000, t);
    assert.equal(s.throttleMs(100, t), 11_000, 'never more than the window set (11 x 1 s)');
    assert.equal(s.throttleMs(0, t), 11_000, 'a zero quota throttles by the most');
  });

  test('a client that waits the throttle time it is given stays at the quota', () => {
    // 20 KiB requests against a 10 KiB/s quota: time moves only as the throttle says
    const s = new RateSensor(11, 1000, 0);
    const quota = 10 * 1024;
    let now = 0;
    let sent = 0;
    while (now < 60_000) {
      s.record(20 * 1024, now);
      sent += 20 * 1024;
      now += Math.max(1, s.throttleMs(quota, now));
    }
    const rate = (sent * 1000) / now;
    assert.ok(Math.abs(rate - quota) / quota < 0.1, `rate ${rate.toFixed(0)} B/s vs quota ${quota}`);
  });
});

describe('ClientQuotaManager', () => {
  test('inactive without quotas; records only for entities that have one; follows quota changes', () => {
    const image = new MetadataImage();
    let now = 0;
    const m = new ClientQuotaManager(image, undefined, () => now);
    assert.equal(m.active, false);
    assert.equal(m.record('producer_byte_rate', 'alice', 'app', 1e9), 0);
    set(image, [U('alice')], 'producer_byte_rate', 1000);
    assert.equal(m.active, true);
    assert.equal(m.record('producer_byte_rate', 'bob', 'app', 1e9), 0, 'bob has no quota');
    now = 1000;
    assert.equal(m.record('producer_byte_rate', 'alice', 'app', 500), 499, '500 B at 1000 B/s: held back 0.5 s');
    now = 2000;
    assert.equal(m.record('producer_byte_rate', 'alice', 'app', 500), 0, 'a second later: within the quota');
    assert.equal(m.record('producer_byte_rate', 'alice', 'other', 2000), 2000, 'the same user, another client id');
    now = 2001;
    assert.ok(m.throttleMs('producer_byte_rate', 'alice', 'app') > 0, '3000 B in 1 s at 1000 B/s');
    set(image, [U('alice')], 'producer_byte_rate', 4000);
    assert.equal(m.throttleMs('producer_byte_rate', 'alice', 'app'), 0, 'a raised quota applies at once');
    remove(image, [U('alice')], 'producer_byte_rate');
    assert.equal(m.active, false);
  });

  test('connection_creation_rate (KIP-612): an address over its quota is refused, uncounted; others are not', () => {
    const image = new MetadataImage();
    let now = 0;
    const m = new ClientQuotaManager(image, undefined, () => now);
    assert.equal(m.admitConnection('10.0.0.1'), true, 'no quota');
    set(image, [{ entityType: 'ip', entityName: null }], 'connection_creation_rate', 10);
    set(image, [{ entityType: 'ip', entityName: '10.0.0.9' }], 'connection_creation_rate', 1000);
    let admitted = 0;
    for (now = 0; now < 20_000; now += 5) if (m.admitConnection('10.0.0.1')) admitted++; // 200 attempts a second
    assert.ok(Math.abs(admitted / 20 - 10) <= 1, `${admitted / 20} connections/s admitted, quota 10`);
    let other = 0;
    for (let i = 0; i < 50; i++) if (m.admitConnection('10.0.0.2')) other++;
    assert.equal(other, 1, 'another address has a default quota of its own (the first at once, the rest paced)');
    let own = 0;
    for (let i = 0; i < 5; i++, now += 5) if (m.admitConnection('10.0.0.9')) own++;
    assert.equal(own, 5, 'an address with its own quota');
  });
});
