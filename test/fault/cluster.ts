/**
 * Samsa broker processes in the fault network (test/fault/netns.ts): node i
 * runs `samsa start` inside namespace i as a combined broker and controller,
 * with its client listener on 10.77.S.(10+i):9092 and its CONTROLLER listener
 * on the same address, port 9093. `ip netns exec` execs the node binary, so
 * the child's pid is the broker's: signals (kill -9, SIGSTOP, SIGCONT) go to
 * the broker itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAMSA_BIN } from '../../src/cli/local-cluster.ts';
import { BROKER_NODE_FLAGS, EXIT_WITH_PARENT_ENV } from '../../src/cli/start.ts';
import { canConnect, REPO_ROOT, sleep } from '../helpers/broker.ts';
import { createFaultNetwork, type FaultNetwork } from './netns.ts';

export const CLIENT_PORT = 9092;
export const CONTROLLER_PORT = 9093;

export interface FaultNode {
  readonly id: number;
  readonly addr: string;
  readonly bootstrap: string;
  readonly dataDir: string;
  readonly pid: number | undefined;
  /** Running (possibly paused). */
  alive(): boolean;
  paused(): boolean;
  output(): string;
  start(): Promise<void>;
  ready(timeoutMs?: number): Promise<void>;
  /** Sends the signal; for SIGKILL / SIGTERM waits for the exit. */
  signal(sig: NodeJS.Signals): Promise<void>;
  pause(): void;
  resume(): void;
}

export interface FaultCluster {
  net: FaultNetwork;
  nodes: FaultNode[];
  node(id: number): FaultNode;
  bootstrapServers: string;
  dataDir: string;
  /** The last lines of every node's output, prefixed by node id. */
  output(maxPerNode?: number): string;
  close(): Promise<void>;
}

export interface FaultClusterOptions {
  nodes?: number;
  overrides?: Record<string, string>;
  readyTimeoutMs?: number;
}

export async function startFaultCluster(opts: FaultClusterOptions = {}): Promise<FaultCluster> {
  const count = opts.nodes ?? 3;
  const net = createFaultNetwork(count);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-fault-'));
  const voters = Array.from({ length: count }, (_, i) => `${i + 1}@${net.addr(i + 1)}:${CONTROLLER_PORT}`).join(',');
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const nodes: FaultNode[] = [];
  for (let id = 1; id <= count; id++) {
    const props: Record<string, string> = {
      ...(opts.overrides ?? {}),
      'node.id': String(id),
      'process.roles': 'broker,controller',
      listeners: `PLAINTEXT://${net.addr(id)}:${CLIENT_PORT},CONTROLLER://${net.addr(id)}:${CONTROLLER_PORT}`,
      'controller.listener.names': 'CONTROLLER',
      'controller.quorum.voters': voters,
      'log.dirs': path.join(dataDir, `node-${id}`),
    };
    nodes.push(makeNode(id, net, props, path.join(dataDir, `node-${id}`), readyTimeoutMs));
  }
  let closed = false;
  const cluster: FaultCluster = {
    net,
    nodes,
    node: (id) => nodes[id - 1],
    bootstrapServers: nodes.map((n) => n.bootstrap).join(','),
    dataDir,
    output(maxPerNode = 200) {
      return nodes
        .map((n) =>
          n
            .output()
            .split('\n')
            .filter(Boolean)
            .slice(-maxPerNode)
            .map((l) => `node-${n.id} | ${l}`)
            .join('\n'),
        )
        .join('\n');
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await Promise.all(
          nodes.map(async (n) => {
            if (!n.alive()) return;
            n.resume();
            const t = setTimeout(() => void n.signal('SIGKILL'), 15_000);
            await n.signal('SIGTERM');
            clearTimeout(t);
          }),
        );
      } finally {
        net.teardown();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    const out = cluster.output();
    await cluster.close();
    throw new Error(`${(err as Error).message}\n${out.slice(-20_000)}`);
  }
  return cluster;
}

function makeNode(
  id: number,
  net: FaultNetwork,
  props: Record<string, string>,
  dataDir: string,
  readyTimeoutMs: number,
): FaultNode {
  let proc: ChildProcess | undefined;
  let out = '';
  let exitInfo: string | undefined;
  let exited: Promise<void> = Promise.resolve();
  let isPaused = false;
  const alive = () => !!proc && proc.exitCode === null && proc.signalCode === null;
  const addr = net.addr(id);
  const args = ['start', ...Object.entries(props).flatMap(([k, v]) => ['-o', `${k}=${v}`])];

  const node: FaultNode = {
    id,
    addr,
    bootstrap: `${addr}:${CLIENT_PORT}`,
    dataDir,
    get pid() {
      return proc?.pid;
    },
    alive,
    paused: () => isPaused,
    output: () => out,
    async start() {
      if (alive()) throw new Error(`node ${id} is already running`);
      exitInfo = undefined;
      isPaused = false;
      out += `--- start ${new Date().toISOString()}\n`;
      const [cmd, ...pre] = net.execPrefix(id);
      const p = spawn(cmd, [...pre, process.execPath, ...BROKER_NODE_FLAGS, SAMSA_BIN, ...args], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          SAMSA_LOG_LEVEL: process.env.SAMSA_LOG_LEVEL ?? 'info',
          SAMSA_LOG_FORMAT: 'json',
          [EXIT_WITH_PARENT_ENV]: '1',
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      proc = p;
      p.stdin!.on('error', () => {});
      const keep = (d: Buffer) => {
        out += d.toString();
        if (out.length > 2_000_000) out = out.slice(-1_000_000);
      };
      p.stdout!.on('data', keep);
      p.stderr!.on('data', keep);
      exited = new Promise<void>((resolve) =>
        p.once('exit', (code, sig) => {
          exitInfo = `exited code=${code} signal=${sig}`;
          out += `--- ${exitInfo}\n`;
          resolve();
        }),
      );
      await node.ready(readyTimeoutMs);
    },
    async ready(timeoutMs = readyTimeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exitInfo) throw new Error(`node ${id} ${exitInfo} before it accepted connections`);
        if (await canConnect(addr, CLIENT_PORT)) return;
        if (Date.now() > deadline)
          throw new Error(`node ${id} did not accept connections on ${node.bootstrap} within ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    async signal(sig) {
      if (!proc || !alive()) return;
      proc.kill(sig);
      if (sig === 'SIGKILL' || sig === 'SIGTERM') {
        await exited;
        isPaused = false;
      }
    },
    pause() {
      if (!proc || !alive() || isPaused) return;
      proc.kill('SIGSTOP');
      isPaused = true;
    },
    resume() {
      if (!proc || !alive() || !isPaused) return;
      proc.kill('SIGCONT');
      isPaused = false;
    },
  };
  return node;
}
