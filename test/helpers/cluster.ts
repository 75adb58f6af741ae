/**
 * A cluster of real `samsa start` processes on loopback, for tests that kill,
 * stop and restart single nodes. Each node runs exactly the command
 * `samsa start --nodes N` would give it (planLocalCluster), on free ports
 * picked by the OS instead of consecutive ones.
 *
 *   const c = await startProcessCluster({ nodes: 3, overrides: { ... } });
 *   await c.node(2).kill('SIGKILL'); await c.node(2).start();
 *   await c.close();
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type LocalNodePlan, planLocalCluster, SAMSA_BIN } from '../../src/cli/local-cluster.ts';
import { BROKER_NODE_FLAGS, EXIT_WITH_PARENT_ENV } from '../../src/cli/start.ts';
import { canConnect, REPO_ROOT, sleep } from './broker.ts';

export interface ClusterNode {
  readonly nodeId: number;
  readonly clientPort: number;
  readonly controllerPort: number;
  /** host:port of the client listener. */
  readonly bootstrap: string;
  /** This node's log dir. */
  readonly dataDir: string;
  readonly plan: LocalNodePlan;
  readonly pid: number | undefined;
  alive(): boolean;
  /** Everything the current process printed (the last 200 kB). */
  output(): string;
  /** Starts the process (again); resolves once its client port accepts connections. */
  start(opts?: { waitReady?: boolean }): Promise<void>;
  /** Resolves once the client port accepts connections (throws if the process exits first). */
  ready(timeoutMs?: number): Promise<void>;
  /** Sends a signal and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ProcessCluster {
  nodes: ClusterNode[];
  node(id: number): ClusterNode;
  /** host:port of every node's client listener. */
  bootstrapServers: string;
  /** Base directory (node-N below it); removed by close(). */
  dataDir: string;
  /** Every node's output, each line prefixed by its node id: for failure messages. */
  output(): string;
  close(): Promise<void>;
}

export interface ProcessClusterOptions {
  nodes?: number;
  /** Properties given to every node. */
  overrides?: Record<string, string>;
  env?: Record<string, string>;
  /** How long each node may take to accept connections (default 90 s: three nodes start on a loaded machine). */
  readyTimeoutMs?: number;
}

/** The kernel's ephemeral port range (ports connect() may pick as a local port). */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    /* not Linux */
  }
  return [32768, 60999];
}

function bindable(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive free ports below the ephemeral range, none of them in
 * `avoid`. A node restarted on its ports must find them free: an
 * OS-assigned port could meanwhile be the local port of another node's
 * outgoing connection.
 */
export async function freePortRange(count: number, avoid: number[] = []): Promise<number> {
  const [lo] = ephemeralRange();
  const from = Math.min(10_000, lo - 1000);
  for (let attempt = 0; attempt < 1000; attempt++) {
    const base = from + Math.floor(Math.random() * (lo - from - count));
    const range = Array.from({ length: count }, (_, i) => base + i);
    if (range.some((p) => avoid.includes(p))) continue;
    let ok = true;
    for (const p of range) if (!(await bindable(p))) ok = false;
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports below ${lo}`);
}

export async function startProcessCluster(opts: ProcessClusterOptions = {}): Promise<ProcessCluster> {
  const count = opts.nodes ?? 3;
  const host = '127.0.0.1';
  const clientBase = await freePortRange(count);
  const controllerBase = await freePortRange(
    count,
    Array.from({ length: count }, (_, i) => clientBase + i),
  );
  const ports = [
    ...Array.from({ length: count }, (_, i) => clientBase + i),
    ...Array.from({ length: count }, (_, i) => controllerBase + i),
  ];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-cluster-'));
  const plan = planLocalCluster({
    nodes: count,
    host,
    clientPorts: ports.slice(0, count),
    controllerPorts: ports.slice(count),
    dataDir,
    overrides: Object.entries(opts.overrides ?? {}).map(([k, v]) => `${k}=${v}`),
  });
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;
  const nodes = plan.nodes.map((p) => makeNode(p, opts.env ?? {}, readyTimeoutMs));
  const cluster: ProcessCluster = {
    nodes,
    node: (id) => nodes[id - 1],
    bootstrapServers: plan.bootstrapServers,
    dataDir,
    output: () =>
      nodes
        .map((n) =>
          n
            .output()
            .split('\n')
            .filter(Boolean)
            .map((l) => `node-${n.nodeId} | ${l}`)
            .join('\n'),
        )
        .join('\n'),
    async close() {
      await Promise.all(
        nodes.map(async (n) => {
          const t = setTimeout(() => void n.kill('SIGKILL'), 15_000);
          await n.kill('SIGTERM');
          clearTimeout(t);
        }),
      );
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    // every node at once: a node opens its client port only once the quorum has a leader
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    const out = cluster.output();
    await cluster.close();
    throw new Error(`${(err as Error).message}\n${out.slice(-20_000)}`);
  }
  return cluster;
}

function makeNode(plan: LocalNodePlan, env: Record<string, string>, readyTimeoutMs: number): ClusterNode {
  let proc: ChildProcess | undefined;
  let out = '';
  let exitInfo: string | undefined;
  let exited: Promise<void> = Promise.resolve();
  const alive = () => !!proc && proc.exitCode === null && proc.signalCode === null;

  const node: ClusterNode = {
    nodeId: plan.nodeId,
    clientPort: plan.clientPort,
    controllerPort: plan.controllerPort,
    bootstrap: `${plan.host}:${plan.clientPort}`,
    dataDir: plan.dataDir,
    plan,
    get pid() {
      return proc?.pid;
    },
    alive,
    output: () => out,
    async start({ waitReady = true } = {}) {
      if (alive()) throw new Error(`node ${plan.nodeId} is already running`);
      out = '';
      exitInfo = undefined;
      const p = spawn(process.execPath, [...BROKER_NODE_FLAGS, SAMSA_BIN, ...plan.args], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          SAMSA_LOG_LEVEL: process.env.SAMSA_LOG_LEVEL ?? 'info',
          SAMSA_LOG_FORMAT: 'json',
          [EXIT_WITH_PARENT_ENV]: '1',
          ...env,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      proc = p;
      p.stdin!.on('error', () => {});
      const keep = (d: Buffer) => {
        out += d.toString();
        if (out.length > 400_000) out = out.slice(-200_000);
      };
      p.stdout!.on('data', keep);
      p.stderr!.on('data', keep);
      exited = new Promise<void>((resolve) =>
        p.once('exit', (code, sig) => {
          exitInfo = `exited code=${code} signal=${sig}`;
          resolve();
        }),
      );
      if (waitReady) await node.ready(readyTimeoutMs);
    },
    async ready(timeoutMs = readyTimeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exitInfo) throw new Error(`node ${plan.nodeId} ${exitInfo} before it accepted connections`);
        if (await canConnect(plan.host, plan.clientPort)) return;
        if (Date.now() > deadline)
          throw new Error(`node ${plan.nodeId} did not accept connections on ${node.bootstrap} within ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (!proc || !alive()) return;
      proc.kill(signal);
      await exited;
    },
  };
  return node;
}
