// `samsa quota set | list` in-process against an in-process broker: the table and JSON outputs, the entity options, and the errors (usage and broker refusals) as one line with a non-zero exit code.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../../src/cli/main.ts';
import { type EmbeddedBroker, startBroker } from '../../../src/index.ts';

let broker: EmbeddedBroker;
before(async () => {
  broker = await startBroker();
});
after(async () => {
  await broker.close();
});

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '-b', broker.bootstrapServers], {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
  });
  return { code, out, err };
}

test('set, list as a table and as JSON, delete', async () => {
  let r = await run([
    'quota',
    'set',
    '--user',
    'u1',
    '--client',
    'c1',
    '--add-config',
    'producer_byte_rate=100,request_percentage=12.5',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'Completed updating quotas of user=u1, client-id=c1.\n');
  r = await run(['quota', 'set', '--ip', '10.1.2.3', '--add-config', 'connection_creation_rate=7']);
  assert.equal(r.code, 0, r.err);
  r = await run(['quota', 'list']);
  assert.equal(
    r.out,
    [
      'ENTITY                 QUOTA                     VALUE',
      'ip=10.1.2.3            connection_creation_rate  7',
      'user=u1, client-id=c1  producer_byte_rate        100',
      'user=u1, client-id=c1  request_percentage        12.5',
      '',
    ].join('\n'),
  );
  r = await run(['quota', 'list', '--user', 'u1', '--json']);
  assert.deepEqual(JSON.parse(r.out), [], 'strict: user=u1 alone has no quota');
  r = await run(['quota', 'list', '--user', 'u1', '--client', 'c1', '--json']);
  assert.deepEqual(JSON.parse(r.out), [
    { entity: 'user=u1, client-id=c1', values: { producer_byte_rate: 100, request_percentage: 12.5 } },
  ]);
  r = await run([
    'quota',
    'set',
    '--user',
    'u1',
    '--client',
    'c1',
    '--delete-config',
    'producer_byte_rate,request_percentage',
  ]);
  assert.equal(r.code, 0, r.err);
  r = await run(['quota', 'list', '--entity-type', 'users', '--entity-type', 'clients', '--json']);
  assert.deepEqual(JSON.parse(r.out), []);
});

test('usage errors and refusals are one line and exit 1', async () => {
  for (const [args, pattern] of [
    [['quota', 'set', '--add-config', 'producer_byte_rate=1'], /name a user/],
    [['quota', 'set', '--user', 'a', '--user-defaults', '--add-config', 'producer_byte_rate=1'], /exclude each other/],
    [['quota', 'set', '--user', 'a'], /nothing to do/],
    [['quota', 'set', '--user', 'a', '--add-config', 'producer_byte_rate=fast'], /not a number/],
    [
      ['quota', 'set', '--entity-type', 'groups', '--entity-name', 'g', '--add-config', 'producer_byte_rate=1'],
      /users, clients or ips/,
    ],
    [['quota', 'set', '--user', 'a', '--add-config', 'producer_byte_rate=1.5'], /INVALID_REQUEST: .*whole number/],
    [['quota', 'set', '--user', 'a', '--add-config', 'bogus=1'], /INVALID_REQUEST: .*bogus/],
    [
      ['quota', 'set', '--ip', 'nohost', '--add-config', 'connection_creation_rate=1'],
      /INVALID_REQUEST: .*not a valid IP/,
    ],
  ] as [string[], RegExp][]) {
    const r = await run(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.out}`);
    assert.match(r.err, pattern);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
});
