/** AlterUserScramCredentials' decision (Kafka's per-user rules) and the image's SCRAM credentials, through a snapshot. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { decideScramAlterations } from '../../../src/server/handlers/scram.ts';

const up = (name: string, mechanism = 1, iterations = 4096) => ({
  name,
  mechanism,
  iterations,
  salt: Buffer.from('salt'),
  saltedPassword: Buffer.alloc(32, 7),
});

test('upsertions become records with derived keys; errors are per user and stop all of that user', () => {
  const image = new MetadataImage();
  const { records, results } = decideScramAlterations(
    {
      deletions: [{ name: 'gone', mechanism: 1 }],
      upsertions: [
        up('alice'),
        up('alice', 2, 8192),
        up('bob', 1, 1000),
        up('bob', 2),
        up('carol', 3),
        up(''),
        up('dup'),
        up('dup'),
      ],
    },
    image,
  );
  assert.deepEqual(
    results.map((r) => [r.user, r.errorCode]),
    [
      ['gone', ErrorCode.RESOURCE_NOT_FOUND],
      ['alice', ErrorCode.NONE],
      ['bob', ErrorCode.UNACCEPTABLE_CREDENTIAL],
      ['carol', ErrorCode.UNSUPPORTED_SASL_MECHANISM],
      ['', ErrorCode.UNACCEPTABLE_CREDENTIAL],
      ['dup', ErrorCode.DUPLICATE_RESOURCE],
    ],
  );
  assert.deepEqual(
    records.map((r) => r.type === 'UserScramCredential' && [r.name, r.mechanism, r.iterations]),
    [
      ['alice', 1, 4096],
      ['alice', 2, 8192],
    ],
  );
  image.applyBatch(records, 0);
  const copy = new MetadataImage();
  copy.applyBatch(image.toRecords(), 0);
  assert.deepEqual([...copy.scramCredentials.get('alice')!.keys()], [1, 2]);
  assert.equal(copy.scramCredentials.get('alice')!.get(2)!.iterations, 8192);
  const del = decideScramAlterations({ deletions: [{ name: 'alice', mechanism: 1 }], upsertions: [] }, copy);
  assert.equal(del.results[0].errorCode, ErrorCode.NONE);
  copy.applyBatch(del.records, 1);
  assert.deepEqual([...copy.scramCredentials.get('alice')!.keys()], [2]);
});
