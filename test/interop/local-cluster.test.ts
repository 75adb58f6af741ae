/**
 * `samsa start --nodes 3` as a user runs it (bin/samsa.mjs): three node
 * processes form a quorum; the bootstrap line comes once they all listen;
 * kcat bootstrapped from one node sees the three brokers and the controller;
 * `samsa cluster info` shows the quorum and the cluster id `samsa format` gave
 * the nodes' dirs beforehand; every log line carries its node id;
 * a node killed -9 is fenced at once (its heartbeat connection closed) and
 * reported (with the command that starts it again) while the others run on;
 * SIGTERM stops every node cleanly and the launcher exits 0. A node that
 * cannot start (its data dir is a file) stops the launcher with one clear
 * line and a non-zero exit, and no node is left running.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KafkaClient } from '../../src/client/client.ts';
import { clusterInfo } from '../../src/cli/cluster.ts';
import { SAMSA_BIN } from '../../src/cli/local-cluster.ts';
import { BROKER_NODE_FLAGS } from '../../src/cli/start.ts';
import { descendants, eventually, REPO_ROOT } from '../helpers/broker.ts';
import { KCAT, runOk } from '../helpers/proc.ts';
import { freePortRange } from '../helpers/cluster.ts';

interface Launcher {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function launch(args: string[]): Launcher {
  const proc = spawn(process.execPath, [...BROKER_NODE_FLAGS, SAMSA_BIN, 'start', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, SAMSA_LOG_LEVEL: 'info', SAMSA_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, out: () => out, err: () => err, exit };
}

/** The node processes under the launcher, by node id (from their `-o node.id=N` argument). */
function nodePids(launcher: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of descendants(launcher)) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const id = argv.find((a) => a.startsWith('node.id='));
      if (id && argv.includes('start')) out.set(Number(id.slice(8)), pid);
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('samsa start --nodes', () => {
  test('three nodes: formatted id, quorum, bootstrap line, kcat and cluster info, a killed node, a clean stop', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-lc-'));
    const port = await freePortRange(3);
    const controllerPort = await freePortRange(3, [port, port + 1, port + 2]);
    // formatted ahead with `samsa format`, as for Kafka (optional): the cluster takes that id
    const format = await runOk(process.execPath, [
      SAMSA_BIN,
      'format',
      '--random-cluster-id',
      '-o',
      `log.dirs=${dir}/node-1`,
    ]);
    const clusterId = format.stdout.trim();
    for (const id of [2, 3])
      await runOk(process.execPath, [
        SAMSA_BIN,
        'format',
        '--cluster-id',
        clusterId,
        '-o',
        `log.dirs=${dir}/node-${id}`,
        '-o',
        `node.id=${id}`,
      ]);
    const l = launch([
      '--nodes',
      '3',
      '--port',
      String(port),
      '--controller-port',
      String(controllerPort),
      '--data-dir',
      dir,
    ]);
    const diag = () => `\n--- stdout ---\n${l.out().slice(-20_000)}\n--- stderr ---\n${l.err().slice(-5_000)}`;
    try {
      const bootstrap = `127.0.0.1:${port},127.0.0.1:${port + 1},127.0.0.1:${port + 2}`;
      await eventually(() => l.out().includes(`Bootstrap servers: ${bootstrap}\n`), 90_000, 50).catch(() =>
        assert.fail(`no bootstrap line${diag()}`),
      );
      assert.equal(l.proc.exitCode, null);

      // kcat from one node: three brokers and the controller
      const md = await eventually(async () => {
        const r = await runOk(KCAT, ['-b', `127.0.0.1:${port + 1}`, '-L', '-J'], { timeoutMs: 30_000 });
        const j = JSON.parse(r.stdout) as { controllerid: number; brokers: { id: number; name: string }[] };
        return j.brokers.length === 3 && j.controllerid > 0 ? j : undefined;
      }, 60_000);
      assert.deepEqual(
        md.brokers.map((b) => [b.id, b.name]).sort(),
        [1, 2, 3].map((id) => [id, `127.0.0.1:${port + id - 1}`]),
      );

      // samsa cluster info: the quorum of the three, led by the controller
      const info = await eventually(async () => {
        const r = await runOk(process.execPath, [SAMSA_BIN, 'cluster', 'info', '--json', '-b', `127.0.0.1:${port}`]);
        const i = JSON.parse(r.stdout);
        return i.quorum?.voters.length === 3 && i.quorum.leaderId === i.controllerId ? i : undefined;
      }, 60_000);
      assert.equal(info.controllerId, md.controllerid);
      assert.equal(info.clusterId, clusterId);
      assert.deepEqual(
        info.quorum.voters.map((v: { nodeId: number }) => v.nodeId),
        [1, 2, 3],
      );
      const text = await runOk(process.execPath, [SAMSA_BIN, 'cluster', 'info', '-b', `127.0.0.1:${port}`]);
      assert.match(text.stdout, new RegExp(`Quorum: leader ${info.controllerId}, epoch \\d+, high watermark \\d+`));
      t.diagnostic(text.stdout);

      // every node's lines are JSON with its id first
      const ids = new Set(
        l
          .out()
          .split('\n')
          .filter((x) => x.startsWith('{'))
          .map((x) => JSON.parse(x).node),
      );
      assert.deepEqual([...ids].sort(), [1, 2, 3]);

      // kill -9 of a node that is not the controller: the controller sees its heartbeat connection close and
      // fences it at once (long before broker.session.timeout.ms, 9 s); the launcher reports the exit with the
      // command that restarts it; the others run on
      const victim = [3, 2, 1].find((id) => id !== info.controllerId)!;
      const survivors = [1, 2, 3].filter((id) => id !== victim);
      const pids = nodePids(l.proc.pid!);
      assert.equal(pids.size, 3, `node processes: ${[...pids]}`);
      const killedAt = Date.now();
      process.kill(pids.get(victim)!, 'SIGKILL');
      const c = new KafkaClient({
        bootstrapServers: `127.0.0.1:${port + survivors[0] - 1}`,
        clientId: 'lc-test',
        retries: 0,
      });
      try {
        await eventually(
          async () => {
            const i = await clusterInfo(c);
            return !i.brokers.some((b) => b.nodeId === victim && b.fenced !== true);
          },
          30_000,
          10,
        );
      } finally {
        await c.close();
      }
      const fencedMs = Date.now() - killedAt;
      t.diagnostic(`node ${victim} killed -9: no longer a live broker after ${fencedMs} ms`);
      assert.ok(fencedMs < 5_000, `node ${victim} still a live broker ${fencedMs} ms after kill -9`);
      await eventually(
        () =>
          new RegExp(`samsa: node ${victim} exited \\(signal SIGKILL\\); 2 of 3 node\\(s\\) still run\\.`).test(
            l.err(),
          ),
        30_000,
        50,
      );
      assert.match(l.err(), new RegExp(`Start it again with: npx samsa start .*-o node\\.id=${victim} `));
      assert.equal(l.proc.exitCode, null);

      // SIGTERM: both others stop cleanly, the launcher exits 0
      l.proc.kill('SIGTERM');
      const exit = await l.exit;
      assert.deepEqual(exit, { code: 0, signal: null }, diag());
      assert.match(l.err(), /samsa: stopping 2 node\(s\)/);
      for (const id of survivors) {
        assert.ok(!isAlive(pids.get(id)!), `node ${id} still runs`);
        assert.ok(fs.existsSync(path.join(dir, `node-${id}`, '.kafka_cleanshutdown')), `node ${id} stopped cleanly`);
      }
    } finally {
      if (l.proc.exitCode === null) {
        l.proc.kill('SIGKILL');
        await l.exit;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a node that cannot start stops the launcher: one line, non-zero exit, no node left', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-lc-'));
    const port = await freePortRange(2);
    const controllerPort = await freePortRange(2, [port, port + 1]);
    // node 2's data dir is a file: it fails at once, with one line
    fs.writeFileSync(path.join(dir, 'node-2'), '');
    const l = launch([
      '--nodes',
      '2',
      '--port',
      String(port),
      '--controller-port',
      String(controllerPort),
      '--data-dir',
      dir,
    ]);
    try {
      const pids = new Map<number, number>();
      const watch = setInterval(() => {
        for (const [id, pid] of nodePids(l.proc.pid!)) pids.set(id, pid);
      }, 20);
      const exit = await l.exit;
      clearInterval(watch);
      assert.deepEqual(exit, { code: 1, signal: null });
      const lines = l
        .err()
        .split('\n')
        .filter((x) => x.startsWith('samsa: '));
      assert.equal(lines.length, 1, l.err());
      assert.match(
        lines[0],
        new RegExp(
          `^samsa: node 2 exited \\(code 1\\) before it listened on 127\\.0\\.0\\.1:${port + 1}: .+; stopping the other nodes$`,
        ),
      );
      for (const pid of pids.values()) assert.ok(!isAlive(pid), `node process ${pid} still runs`);
    } finally {
      if (l.proc.exitCode === null) l.proc.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
