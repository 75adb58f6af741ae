// Tests of the samsa CLI run in-process against an in-process broker: topic admin, produce from stdin, consume formats, errors and exit codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { runCli } from '../../../src/cli/main.ts';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';
import { KafkaClient } from '../../../src/client/index.ts';
import { Kip848Member } from '../../helpers/groups.ts';

let broker: EmbeddedBroker;
before(async () => {
  broker = await startBroker({ overrides: { 'group.initial.rebalance.delay.ms': '0' } });
});
after(async () => {
  await broker.close();
});

async function run(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '-b', broker.bootstrapServers], {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    stdin: Readable.from([stdin]),
  });
  return { code, out, err };
}

test('topic create / list / describe / alter-config / delete', async () => {
  let r = await run(['topic', 'create', 'cli-a', '--partitions', '2', '--config', 'retention.ms=60000']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "created topic 'cli-a'\n");
  r = await run(['topic', 'create', 'cli-a']);
  assert.equal(r.code, 1);
  assert.match(r.err, /^samsa: create topic 'cli-a': TOPIC_ALREADY_EXISTS/);
  assert.equal(r.err.trim().split('\n').length, 1);
  r = await run(['topic', 'create', 'cli-a', '--if-not-exists', '--json']);
  assert.deepEqual(JSON.parse(r.out), { topic: 'cli-a', created: false });

  r = await run(['topic', 'list', '--json']);
  assert.deepEqual(
    JSON.parse(r.out)
      .filter((t: any) => t.name === 'cli-a')
      .map((t: any) => t.partitions),
    [2],
  );
  r = await run(['topic', 'list']);
  assert.match(r.out, /^TOPIC\s+PARTITIONS\s+REPLICATION\n/);
  assert.match(r.out, /cli-a\s+2\s+1/);

  r = await run(['topic', 'describe', 'cli-a', '--json']);
  const [d] = JSON.parse(r.out);
  assert.equal(d.partitions.length, 2);
  assert.deepEqual(d.configs, { 'retention.ms': '60000' });

  r = await run([
    'topic',
    'alter-config',
    'cli-a',
    '--config',
    'segment.bytes=1048576',
    '--delete-config',
    'retention.ms',
  ]);
  assert.equal(r.code, 0, r.err);
  r = await run(['topic', 'describe', 'cli-a']);
  assert.match(r.out, /segment\.bytes\s+1048576\s+topic/);
  assert.doesNotMatch(r.out, /retention\.ms/);

  r = await run(['topic', 'alter-config', 'cli-a', '--config', 'segment.bytez=1']);
  assert.equal(r.code, 1);
  assert.match(r.err, /INVALID_CONFIG.*did you mean 'segment.bytes'/);

  r = await run(['topic', 'delete', 'cli-a', 'cli-none']);
  assert.equal(r.code, 1);
  assert.equal(r.out, "deleted topic 'cli-a'\n");
  assert.match(r.err, /UNKNOWN_TOPIC_OR_PARTITION/);
  r = await run(['topic', 'delete', 'cli-none', '--if-exists']);
  assert.equal(r.code, 0);
});

test('produce from stdin, consume with formats, offsets and limits', async () => {
  await run(['topic', 'create', 'cli-p', '--partitions', '1']);
  let r = await run(
    ['produce', 'cli-p', '--key-separator', ':', '--header', 'src=test', '--compression', 'gzip', '--json'],
    'k1:one\nk2:two\nthree\n',
  );
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { topic: 'cli-p', produced: 3 });

  r = await run(['consume', 'cli-p', '--from-beginning', '-e', '--format', '%o %k=%v [%h]\\n']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '0 k1=one [src=test]\n1 k2=two [src=test]\n2 =three [src=test]\n');

  r = await run(['consume', 'cli-p', '--offset', '-1', '-e']);
  assert.equal(r.out, 'three\n');
  r = await run(['consume', 'cli-p', '--offset', '1', '--max-messages', '1', '--json']);
  const j = JSON.parse(r.out);
  assert.equal(j.offset, 1);
  assert.equal(j.key, 'k2');
  r = await run(['consume', 'cli-p', '-e']);
  assert.equal(r.out, '');
});

test('keyed records go to the murmur2 partition; --partition pins them', async () => {
  await run(['topic', 'create', 'cli-k', '--partitions', '3']);
  let r = await run(['produce', 'cli-k', '--key-separator', '=', '--acks', '1'], 'foobar=x\nfoobar=y\n');
  assert.equal(r.code, 0, r.err);
  r = await run(['consume', 'cli-k', '--from-beginning', '-e', '--format', '%p:%v\\n']);
  // murmur2("foobar") = -790332482; (& 0x7fffffff) % 3 = 0
  assert.equal(r.out, '0:x\n0:y\n');
  r = await run(['produce', 'cli-k', '--partition', '2'], 'z\n');
  r = await run(['consume', 'cli-k', '--partition', '2', '--from-beginning', '-e']);
  assert.equal(r.out, 'z\n');
  r = await run(['produce', 'cli-k', '--partition', '9'], 'z\n');
  assert.equal(r.code, 1);
  assert.match(r.err, /no partition 9/);
});

test('consume with --group resumes from the committed offset', async () => {
  await run(['topic', 'create', 'cli-g']);
  await run(['produce', 'cli-g'], 'a\nb\nc\n');
  let r = await run(['consume', 'cli-g', '--group', 'g1', '--offset', 'beginning', '--max-messages', '2']);
  assert.equal(r.out, 'a\nb\n');
  r = await run(['consume', 'cli-g', '--group', 'g1', '-e']);
  assert.equal(r.out, 'c\n');
  // committed offsets come before --from-beginning (a reset policy, as auto.offset.reset)...
  r = await run(['consume', 'cli-g', '--group', 'g1', '--from-beginning', '-e']);
  assert.equal(r.out, '');
  // ...but an explicit offset overrides them
  r = await run(['consume', 'cli-g', '--group', 'g1', '--offset', '1', '-e']);
  assert.equal(r.out, 'b\nc\n');
});

test('group commands: usage errors and unknown groups are one line with a non-zero exit', async () => {
  await run(['topic', 'create', 'cli-gr', '--partitions', '2']);
  for (const [args, msg] of [
    [['group', 'reset-offsets', 'gx', '--topic', 'cli-gr'], /give exactly one of --to-earliest/],
    [['group', 'reset-offsets', 'gx', '--topic', 'cli-gr', '--to-earliest', '--to-latest'], /give exactly one of/],
    [['group', 'reset-offsets', 'gx', '--to-earliest'], /required option '--topic <topic>'/],
    [['group', 'reset-offsets', 'gx', '--topic', 'cli-gr', '--to-offset', 'ten'], /--to-offset must be a whole number/],
    [
      ['group', 'reset-offsets', 'gx', '--topic', 'cli-gr', '--shift-by', '-1'],
      /cannot shift the offset of cli-gr-0: group 'gx' has no committed offset/,
    ],
    [['group', 'reset-offsets', 'gx', '--topic', 'cli-none', '--to-earliest'], /topic 'cli-none' does not exist/],
    [['group', 'describe', 'gx'], /group 'gx' does not exist/],
    [['group', 'delete', 'gx'], /GROUP_ID_NOT_FOUND/],
  ] as const) {
    const r = await run([...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /^samsa: /);
    assert.match(r.err, msg);
  }
  // a reset of a group that has no offsets yet: every partition from '-' to the target; --execute creates them
  let r = await run(['group', 'reset-offsets', 'gx', '--topic', 'cli-gr', '--to-latest']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+NEW-OFFSET\n/);
  assert.match(r.out, /cli-gr\s+0\s+-\s+0\n/);
  r = await run(['group', 'reset-offsets', 'gx', '--topic', 'cli-gr', '--to-offset', '0', '--execute', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).executed, true);
  r = await run(['group', 'describe', 'gx', '--json']);
  assert.deepEqual(
    JSON.parse(r.out).offsets.map((o: any) => [o.partition, o.committedOffset, o.lag]),
    [
      [0, 0, 0],
      [1, 0, 0],
    ],
  );
  r = await run(['group', 'list']);
  assert.match(r.out, /^GROUP\s+TYPE\s+STATE\s+PROTOCOL-TYPE\n/);
  assert.match(r.out, /\ngx\s+classic\s+Empty/);
  r = await run(['group', 'delete', 'gx', '--json']);
  assert.deepEqual(JSON.parse(r.out), { groupId: 'gx', deleted: true });
});

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('group describe / list / reset-offsets / delete of a KIP-848 (consumer protocol) group', async () => {
  await run(['topic', 'create', 'cli-848', '--partitions', '2']);
  await run(['produce', 'cli-848', '--partition', '1'], 'a\nb\nc\n');
  const client = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'cli-848-member' });
  const member = new Kip848Member(client, 'g848', ['cli-848'], 100);
  try {
    member.start();
    await until(
      'the member to own both partitions',
      async () => JSON.stringify(await member.ownedTps()) === '["cli-848:0","cli-848:1"]',
    );
    const described = async () => {
      const r = await run(['group', 'describe', 'g848', '--json']);
      assert.equal(r.code, 0, r.err);
      return JSON.parse(r.out);
    };
    const v = await until('the group to be Stable', async () => {
      const x = await described();
      return x.state === 'Stable' && x;
    });
    assert.equal(v.groupType, 'consumer');
    assert.equal(v.protocolType, 'consumer');
    assert.ok(v.protocol.length > 0, 'the server assignor');
    assert.equal(v.members.length, 1);
    const m = v.members[0];
    assert.equal(m.memberId, member.memberId);
    assert.equal(m.clientId, 'cli-848-member');
    assert.match(m.host, /127\.0\.0\.1/);
    assert.equal(m.memberEpoch, member.epoch);
    assert.deepEqual(m.assignment, [{ topic: 'cli-848', partitions: [0, 1] }]);
    assert.deepEqual(m.targetAssignment, [{ topic: 'cli-848', partitions: [0, 1] }]);
    assert.deepEqual(
      v.offsets.map((o: any) => [o.partition, o.committedOffset, o.logEndOffset, o.lag, o.memberId]),
      [
        [0, null, 0, null, member.memberId],
        [1, null, 3, null, member.memberId],
      ],
    );
    let r = await run(['group', 'describe', 'g848']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Group: g848\nType: consumer\nState: Stable\n/);
    assert.match(r.out, /MEMBER\s+CLIENT-ID\s+HOST\s+EPOCH\s+PARTITIONS\s+TARGET-PARTITIONS\n/);
    assert.match(
      r.out,
      new RegExp(`${member.memberId}\\s+cli-848-member\\s+\\S+\\s+${member.epoch}\\s+cli-848:0,1\\s+cli-848:0,1\\n`),
    );

    r = await run(['group', 'list', '--json']);
    assert.deepEqual(
      JSON.parse(r.out).filter((g: any) => g.groupId === 'g848'),
      [{ groupId: 'g848', protocolType: 'consumer', state: 'Stable', type: 'consumer' }],
    );
    r = await run(['group', 'list']);
    assert.match(r.out, /\ng848\s+consumer\s+Stable\s+consumer\n/);

    // with a member: --execute and delete are refused
    r = await run(['group', 'reset-offsets', 'g848', '--topic', 'cli-848', '--to-latest', '--execute']);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /^samsa: group 'g848' is Stable with 1 member\(s\): offsets can only be reset while it has no members/,
    );
    r = await run(['group', 'delete', 'g848']);
    assert.equal(r.code, 1);
    assert.match(r.err, /NON_EMPTY_GROUP/);

    assert.equal(await member.leave(), 0);
    const empty = await described();
    assert.equal(empty.groupType, 'consumer');
    assert.equal(empty.state, 'Empty');
    assert.deepEqual(empty.members, []);
    r = await run(['group', 'reset-offsets', 'g848', '--topic', 'cli-848', '--to-latest', '--execute', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      JSON.parse(r.out).partitions.map((p: any) => [p.partition, p.newOffset]),
      [
        [0, 0],
        [1, 3],
      ],
    );
    assert.deepEqual(
      (await described()).offsets.map((o: any) => [o.partition, o.committedOffset, o.lag]),
      [
        [0, 0, 0],
        [1, 3, 0],
      ],
    );
    r = await run(['group', 'delete', 'g848', '--json']);
    assert.equal(r.code, 0, r.err);
    r = await run(['group', 'describe', 'g848']);
    assert.equal(r.code, 1);
    assert.match(r.err, /group 'g848' does not exist/);
  } finally {
    await member.stop();
    await client.close();
  }
});

test('cluster info', async () => {
  const r = await run(['cluster', 'info', '--json']);
  const info = JSON.parse(r.out);
  assert.equal(info.clusterId, broker.clusterId);
  assert.equal(info.brokers[0].port, broker.port);
  const t = await run(['cluster', 'info']);
  assert.match(t.out, new RegExp(`Cluster id: ${broker.clusterId}`));
});

test('usage errors: one line, non-zero exit', async () => {
  for (const args of [
    ['consume'],
    ['produce', 'x', '--acks', '7'],
    ['topic', 'create', 'x', '--partitions', 'many'],
    ['consume', 'x', '--from-beginning', '--offset', '3'],
    ['topic', 'alter-config', 'x'],
    ['nosuchcommand'],
  ]) {
    const r = await run(args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /^samsa: /);
  }
  const r = await run(['consume', 'cli-missing', '-e']);
  assert.equal(r.code, 1);
  assert.equal(r.err, "samsa: topic 'cli-missing' does not exist\n");
});

test('unreachable broker: one line', async () => {
  let err = '';
  const code = await runCli(['cluster', 'info', '-b', '127.0.0.1:1'], { stdout: () => {}, stderr: (s) => (err += s) });
  assert.equal(code, 1);
  assert.equal(err, 'samsa: cannot connect to 127.0.0.1:1: connection refused\n');
});

test('bin/samsa.mjs runs by its own #! line with the broker V8 flags of start.ts', async () => {
  const { BROKER_NODE_FLAGS } = await import('../../../src/cli/start.ts');
  const bin = path.resolve(import.meta.dirname, '../../../bin/samsa.mjs');
  const first = fs.readFileSync(bin, 'utf8').split('\n')[0];
  assert.equal(first, `#!/usr/bin/env -S node ${BROKER_NODE_FLAGS.join(' ')}`);
  // executed as a program (not `node bin/samsa.mjs`), the kernel and env run the #! line
  const direct = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  assert.equal(direct.status, 0, direct.stderr);
  assert.equal(direct.stdout.trim(), '0.1.0');
});

test('bin/samsa.mjs: --help exits 0; start with a bad property exits 1 with one line', () => {
  const bin = path.resolve(import.meta.dirname, '../../../bin/samsa.mjs');
  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: samsa/);
  const bad = spawnSync(process.execPath, [bin, 'start', '--override', 'log.dirz=/tmp/x'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, "samsa: unknown property 'log.dirz' (did you mean 'log.dirs'?)\n");
});
