// `samsa format`: meta.properties into every log dir and metadata.log.dir; a directory of another cluster or node.id
// refuses the whole run (nothing written); a formatted directory is kept; a broker started on it uses that identity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../../src/cli/main.ts';
import { startBroker } from '../../../src/index.ts';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-format-'));
  return fn(dir).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

const ID = 'ngEtWdfqKwzNyx_bEHyQzg';
const OTHER = 'AAAAAAAAAAAAAAAAAAAAAQ';
const meta = (dir: string) => fs.readFileSync(path.join(dir, 'meta.properties'), 'utf8');

test('format --cluster-id writes every log dir and metadata.log.dir; again is a no-op', async () => {
  await withDir(async (dir) => {
    const [a, b, m] = ['a', 'b', 'meta'].map((d) => path.join(dir, d));
    const args = [
      'format',
      '--cluster-id',
      ID,
      '-o',
      `log.dirs=${a},${b}`,
      '-o',
      `metadata.log.dir=${m}`,
      '-o',
      'node.id=3',
    ];
    let r = await run(args);
    assert.equal(r.code, 0, r.err);
    for (const d of [a, b, m]) {
      assert.equal(meta(d), `# Samsa broker identity\nversion=1\ncluster.id=${ID}\nnode.id=3\n`);
      assert.match(r.out, new RegExp(`^formatted ${d} \\(cluster.id=${ID}, node.id=3\\)$`, 'm'));
      // replaced atomically: no temporary file left beside it
      assert.deepEqual(fs.readdirSync(d), ['meta.properties']);
    }
    r = await run([...args, '--json']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), {
      clusterId: ID,
      nodeId: 3,
      dirs: [a, b, m].map((d) => ({ dir: d, status: 'already formatted' })),
    });
  });
});

test('format refuses a dir of another cluster or node.id and then writes nothing', async () => {
  await withDir(async (dir) => {
    const [a, b] = ['a', 'b'].map((d) => path.join(dir, d));
    fs.mkdirSync(b);
    fs.writeFileSync(path.join(b, 'meta.properties'), `version=1\ncluster.id=${OTHER}\nnode.id=1\n`);
    let r = await run(['format', '--cluster-id', ID, '-o', `log.dirs=${a},${b}`]);
    assert.equal(r.code, 1);
    assert.equal(
      r.err,
      `samsa: ${path.join(b, 'meta.properties')} belongs to cluster ${OTHER}, not ${ID}: nothing was formatted (use an empty directory, or remove that one to give up its data)\n`,
    );
    assert.equal(fs.existsSync(a), false);

    fs.writeFileSync(path.join(b, 'meta.properties'), `version=1\ncluster.id=${ID}\nnode.id=1\n`);
    r = await run(['format', '--cluster-id', ID, '-o', `log.dirs=${a},${b}`, '-o', 'node.id=2']);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /belongs to node\.id 1, not 2: nothing was formatted \(set node\.id=1, or use another directory\)\n$/,
    );
    assert.equal(fs.existsSync(a), false);

    for (const args of [
      ['format', '-o', `log.dirs=${a}`],
      ['format', '--cluster-id', ID, '--random-cluster-id', '-o', `log.dirs=${a}`],
      ['format', '--cluster-id', 'not-a-uuid', '-o', `log.dirs=${a}`],
      ['format', '--cluster-id', ID, '-o', `log.dirs=${a}`, '-o', `cluster.id=${OTHER}`],
    ]) {
      r = await run(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.equal(fs.existsSync(a), false, args.join(' '));
    }
  });
});

test('format --random-cluster-id prints the id alone on stdout; a broker started on the dir has that id', async () => {
  await withDir(async (dir) => {
    const r = await run(['format', '--random-cluster-id', '-o', `log.dirs=${dir}`]);
    assert.equal(r.code, 0, r.err);
    const id = r.out.trim();
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(r.out, `${id}\n`);
    assert.match(r.err, new RegExp(`^formatted ${dir} \\(cluster.id=${id}, node.id=1\\)\n$`));
    const broker = await startBroker({
      overrides: { 'log.dirs': dir, listeners: 'PLAINTEXT://127.0.0.1:0' },
    });
    try {
      assert.equal(broker.clusterId, id);
    } finally {
      await broker.close();
    }
  });
});
