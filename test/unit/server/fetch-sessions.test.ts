/** Fetch session cache: the KIP-227 session id / epoch rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FetchSessionCache } from '../../../src/server/fetch-sessions.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';

test('sessionless full fetch (0, -1) opens nothing', () => {
  const c = new FetchSessionCache();
  const r = c.resolve(0, -1, 0);
  assert.ok(!('errorCode' in r));
  assert.equal(r.session, undefined);
  assert.equal(r.full, true);
  assert.equal(c.size, 0);
});

test('(0, 0) opens a session; incremental epochs must follow in order', () => {
  const c = new FetchSessionCache();
  const r = c.resolve(0, 0, 0);
  assert.ok(!('errorCode' in r) && r.session);
  const id = r.session.id;
  assert.ok(id > 0);
  const r1 = c.resolve(id, 1, 1);
  assert.ok(!('errorCode' in r1));
  assert.equal(r1.full, false);
  assert.equal(r1.session, r.session);
  // replaying epoch 1 is refused
  assert.deepEqual(c.resolve(id, 1, 2), { errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH });
  const r2 = c.resolve(id, 2, 3);
  assert.ok(!('errorCode' in r2));
});

test('unknown session id is FETCH_SESSION_ID_NOT_FOUND; (id, -1) closes', () => {
  const c = new FetchSessionCache();
  assert.deepEqual(c.resolve(12345, 1, 0), { errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND });
  const r = c.resolve(0, 0, 0);
  assert.ok(!('errorCode' in r) && r.session);
  const id = r.session.id;
  const closed = c.resolve(id, -1, 1);
  assert.ok(!('errorCode' in closed));
  assert.equal(closed.session, undefined);
  assert.deepEqual(c.resolve(id, 1, 2), { errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND });
});

test('the cache evicts the least recently used session when full', () => {
  const c = new FetchSessionCache(2);
  const a = c.resolve(0, 0, 0);
  const b = c.resolve(0, 0, 1);
  assert.ok(!('errorCode' in a) && a.session && !('errorCode' in b) && b.session);
  c.resolve(a.session.id, 1, 5); // a is now more recent than b
  const n = c.resolve(0, 0, 6);
  assert.ok(!('errorCode' in n) && n.session);
  assert.equal(c.size, 2);
  assert.deepEqual(c.resolve(b.session.id, 1, 7), { errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND });
  assert.ok(!('errorCode' in c.resolve(a.session.id, 2, 8)));
});
