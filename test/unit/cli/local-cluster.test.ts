// `samsa start --nodes N` planning (no process started): ports, voters, per-node properties, what is refused,
// that every node's configuration loads, the log-line prefix, and the --dry-run output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../../src/cli/main.ts';
import {
  checkLocalCluster,
  consecutivePorts,
  nodeCommandLine,
  planLocalCluster,
  prefixLine,
} from '../../../src/cli/local-cluster.ts';
import { loadBrokerConfig } from '../../../src/config/broker-config.ts';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const plan3 = () =>
  planLocalCluster({
    nodes: 3,
    clientPorts: consecutivePorts(9092, 3, '--port'),
    controllerPorts: consecutivePorts(19092, 3, '--controller-port'),
    dataDir: 'data',
    overrides: ['num.partitions=3'],
  });

test('plan: consecutive ports, every node a voter, data under <dir>/node-N, shared overrides first', () => {
  const p = plan3();
  assert.equal(p.bootstrapServers, '127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094');
  assert.equal(p.voters, '1@127.0.0.1:19092,2@127.0.0.1:19093,3@127.0.0.1:19094');
  const n2 = p.nodes[1];
  assert.deepEqual(Object.fromEntries(n2.properties), {
    'node.id': '2',
    'process.roles': 'broker,controller',
    listeners: 'PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:19093',
    'controller.listener.names': 'CONTROLLER',
    'controller.quorum.voters': p.voters,
    'log.dirs': path.join('data', 'node-2'),
  });
  assert.deepEqual(n2.args.slice(0, 3), ['start', '-o', 'num.partitions=3']);
  assert.equal(
    nodeCommandLine(n2),
    'npx samsa start -o num.partitions=3 -o node.id=2 -o process.roles=broker,controller ' +
      '-o listeners=PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:19093 ' +
      '-o controller.listener.names=CONTROLLER ' +
      `-o controller.quorum.voters=${p.voters} -o log.dirs=data/node-2`,
  );
});

test("plan: every node's configuration loads, with the node's id, listener and log dir", () => {
  for (const n of plan3().nodes) {
    const overrides = n.args.filter((_, i) => n.args[i - 1] === '-o');
    const c = loadBrokerConfig({ overrides, cwd: '/' });
    assert.equal(c.nodeId, n.nodeId);
    assert.equal(c.listeners[0].port, n.clientPort);
    assert.equal(c.numPartitions, 3);
  }
});

test('plan: refusals, each one line', async () => {
  assert.throws(() => consecutivePorts(65534, 3, '--port'), /--port must leave room for 3 consecutive ports/);
  assert.throws(
    () =>
      planLocalCluster({
        nodes: 3,
        clientPorts: [9092, 9093, 9094],
        controllerPorts: [9094, 9095, 9096],
        dataDir: 'd',
      }),
    /port 9094 would be used twice/,
  );
  assert.throws(
    () =>
      planLocalCluster({
        nodes: 2,
        clientPorts: [1, 2],
        controllerPorts: [3, 4],
        dataDir: 'd',
        overrides: ['log.dirs=/x'],
      }),
    /--nodes sets log\.dirs for each node/,
  );
  assert.throws(
    () => planLocalCluster({ nodes: 0, clientPorts: [], controllerPorts: [], dataDir: 'd' }),
    /--nodes must be a whole number from 1/,
  );

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-lc-'));
  try {
    const file = path.join(dir, 'server.properties');
    fs.writeFileSync(file, 'num.partitions=2\nadvertised.listeners=PLAINTEXT://example:9092\n');
    const p = planLocalCluster({
      nodes: 1,
      clientPorts: [9092],
      controllerPorts: [19092],
      dataDir: dir,
      configFile: file,
    });
    assert.throws(
      () => checkLocalCluster(p, file, dir),
      /server\.properties sets advertised\.listeners, which --nodes sets/,
    );
    fs.writeFileSync(file, 'num.partitions=2\n');
    checkLocalCluster(p, file, path.join(dir, 'cluster'));
    fs.writeFileSync(path.join(dir, 'meta.properties'), 'cluster.id=x\nnode.id=1\n');
    assert.throws(() => checkLocalCluster(p, file, dir), /is a single broker's log dir \(it holds meta\.properties\)/);
    fs.writeFileSync(file, 'num.partitions=many\n');
    assert.throws(
      () => checkLocalCluster(p, file, path.join(dir, 'cluster')),
      /^ConfigError: node 1: .*num\.partitions/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  for (const args of [
    ['start', '--nodes', '3', '-o', 'node.id=7'],
    ['start', '--nodes', 'three'],
    ['start', '--port', '9092'],
    ['start', '--data-dir', 'x'],
  ]) {
    const r = await run(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /^samsa: /);
  }
});

test('start --nodes --dry-run prints each node command; --json the plan', async () => {
  let r = await run(['start', '--nodes', '2', '--port', '29092', '--data-dir', '/var/samsa', '--dry-run']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(
    lines[0],
    /^npx samsa start -o node\.id=1 .*listeners=PLAINTEXT:\/\/127\.0\.0\.1:29092,CONTROLLER:\/\/127\.0\.0\.1:39092 /,
  );
  assert.match(
    lines[1],
    /controller\.quorum\.voters=1@127\.0\.0\.1:39092,2@127\.0\.0\.1:39093 -o log\.dirs=\/var\/samsa\/node-2$/,
  );
  r = await run(['start', '--nodes', '2', '--port', '29092', '--controller-port', '30000', '--dry-run', '--json']);
  const plan = JSON.parse(r.out);
  assert.equal(plan.bootstrapServers, '127.0.0.1:29092,127.0.0.1:29093');
  assert.deepEqual(
    plan.nodes.map((n: { controllerPort: number; dataDir: string }) => [n.controllerPort, n.dataDir]),
    [
      [30000, 'data/node-1'],
      [30001, 'data/node-2'],
    ],
  );
  assert.equal(plan.nodes[0].properties['node.id'], '1');
});

test('log lines carry the node id: a prefix on text, a first field in JSON', () => {
  assert.equal(prefixLine(2, '12:00:00.000 INFO  hello'), 'node-2 | 12:00:00.000 INFO  hello');
  assert.equal(prefixLine(3, 'x', 2), 'node-3  | x');
  const j = prefixLine(12, '{"level":30,"msg":"hi"}');
  assert.deepEqual(JSON.parse(j), { node: 12, level: 30, msg: 'hi' });
  assert.equal(prefixLine(1, '{}'), '{"node":1}');
});
