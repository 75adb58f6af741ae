/**
 * `samsa start --nodes N`: a cluster of N separate `samsa start` processes on
 * one machine, for trying a cluster (and its failures) on a laptop.
 *
 * Node i (1..N) is a combined broker and controller (`process.roles=broker,controller`)
 * with `node.id=i`, its client listener on 127.0.0.1:(port + i - 1), its
 * CONTROLLER listener on 127.0.0.1:(controllerPort + i - 1), every node in
 * `controller.quorum.voters`, and its data under `<dataDir>/node-i`. The
 * properties of `-c` and the `-o` overrides go to every node; the per-node
 * ones above are the launcher's and cannot be overridden.
 *
 * `planLocalCluster` computes the nodes' command lines (pure; the tests start
 * the same commands themselves); `runLocalCluster` starts them as child
 * processes of the same node binary, prefixes their log lines with the node
 * id, prints the bootstrap servers once every node accepts connections and
 * stops them all on SIGINT / SIGTERM (a second signal kills them).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadBrokerConfig } from '../config/broker-config.ts';
import { parseProperties } from '../config/properties.ts';
import type { CliIO } from './context.ts';
import { UsageError } from './format.ts';
import { BROKER_NODE_FLAGS, EXIT_WITH_PARENT_ENV } from './start.ts';

/** The `samsa` executable the nodes run (bin/samsa.mjs, two levels up from src/cli and from dist/cli). */
export const SAMSA_BIN = fileURLToPath(new URL('../../bin/samsa.mjs', import.meta.url));

/** The properties the launcher sets on each node (a `-o` or `-c` setting one of them is refused). */
export const PER_NODE_PROPERTIES = [
  'node.id',
  'broker.id',
  'process.roles',
  'listeners',
  'advertised.listeners',
  'controller.listener.names',
  'controller.quorum.voters',
  'controller.quorum.bootstrap.servers',
  'log.dirs',
  'log.dir',
  'metadata.log.dir',
] as const;

export const DEFAULT_CLIENT_PORT = 9092;
/** The controller ports start this far above the client ports (19092 for the default 9092). */
export const CONTROLLER_PORT_OFFSET = 10_000;
export const DEFAULT_DATA_DIR = './data';
export const MAX_LOCAL_NODES = 64;
/** After a node failed at startup, how long the others get to stop on SIGTERM before they are killed. */
export const FAILURE_STOP_MS = 20_000;

export interface LocalClusterOptions {
  nodes: number;
  host?: string;
  /** Client (PLAINTEXT) port of each node, node 1 first. */
  clientPorts: number[];
  /** CONTROLLER port of each node. */
  controllerPorts: number[];
  /** Node i keeps its data under `<dataDir>/node-i`. */
  dataDir: string;
  configFile?: string;
  /** `key=value` overrides given to every node. */
  overrides?: string[];
}

export interface LocalNodePlan {
  nodeId: number;
  host: string;
  clientPort: number;
  controllerPort: number;
  dataDir: string;
  /** The per-node properties, in the order they are passed. */
  properties: [string, string][];
  /** The arguments after `samsa`: `start [-c file] [-o shared]... -o per-node...`. */
  args: string[];
}

export interface LocalClusterPlan {
  nodes: LocalNodePlan[];
  bootstrapServers: string;
  voters: string;
}

/** Consecutive ports from `base`; refuses ports outside 1..65535. */
export function consecutivePorts(base: number, count: number, what: string): number[] {
  if (!Number.isInteger(base) || base < 1 || base + count - 1 > 65535)
    throw new UsageError(`${what} must leave room for ${count} consecutive ports in 1..65535, got ${base}`);
  return Array.from({ length: count }, (_, i) => base + i);
}

/** The command lines of a local cluster's nodes (nothing is started, nothing is read from disk). */
export function planLocalCluster(o: LocalClusterOptions): LocalClusterPlan {
  const host = o.host ?? '127.0.0.1';
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_LOCAL_NODES)
    throw new UsageError(`--nodes must be a whole number from 1 to ${MAX_LOCAL_NODES}, got ${o.nodes}`);
  if (o.clientPorts.length !== o.nodes || o.controllerPorts.length !== o.nodes)
    throw new Error('one client port and one controller port per node');
  const all = [...o.clientPorts, ...o.controllerPorts];
  const dup = all.find((p, i) => all.indexOf(p) !== i);
  if (dup !== undefined)
    throw new UsageError(`port ${dup} would be used twice: the client and controller port ranges overlap`);
  const shared = o.overrides ?? [];
  for (const item of shared) {
    const key = item.slice(0, Math.max(0, item.indexOf('='))).trim();
    if ((PER_NODE_PROPERTIES as readonly string[]).includes(key))
      throw new UsageError(
        `--nodes sets ${key} for each node: use --port, --controller-port and --data-dir, or start the nodes by hand (docs/cluster.md)`,
      );
  }
  const voters = o.controllerPorts.map((p, i) => `${i + 1}@${host}:${p}`).join(',');
  const nodes = o.clientPorts.map((clientPort, i): LocalNodePlan => {
    const nodeId = i + 1;
    const controllerPort = o.controllerPorts[i];
    const dataDir = path.join(o.dataDir, `node-${nodeId}`);
    const properties: [string, string][] = [
      ['node.id', String(nodeId)],
      ['process.roles', 'broker,controller'],
      ['listeners', `PLAINTEXT://${host}:${clientPort},CONTROLLER://${host}:${controllerPort}`],
      ['controller.listener.names', 'CONTROLLER'],
      ['controller.quorum.voters', voters],
      ['log.dirs', dataDir],
    ];
    const args = ['start'];
    if (o.configFile !== undefined) args.push('-c', o.configFile);
    for (const item of shared) args.push('-o', item);
    for (const [k, v] of properties) args.push('-o', `${k}=${v}`);
    return { nodeId, host, clientPort, controllerPort, dataDir, properties, args };
  });
  return { nodes, voters, bootstrapServers: nodes.map((n) => `${n.host}:${n.clientPort}`).join(',') };
}

/**
 * Refuses what would make the plan lie: a config file that sets a per-node
 * property (the launcher's value would silently replace it), a data dir that
 * is itself a single node's log dir, and any node configuration the broker
 * would refuse (checked here once, not N times in N processes).
 */
export function checkLocalCluster(plan: LocalClusterPlan, configFile: string | undefined, dataDir: string): void {
  if (configFile !== undefined && fs.existsSync(configFile)) {
    let keys: string[] = [];
    try {
      keys = parseProperties(fs.readFileSync(configFile, 'utf8')).map((e) => e.key);
    } catch {
      // an unreadable or malformed file is reported by loadBrokerConfig below
    }
    const clash = keys.find((k) => (PER_NODE_PROPERTIES as readonly string[]).includes(k));
    if (clash !== undefined)
      throw new UsageError(
        `${configFile} sets ${clash}, which --nodes sets for each node: remove it from the file, or start the nodes by hand (docs/cluster.md)`,
      );
  }
  if (fs.existsSync(path.join(dataDir, 'meta.properties')))
    throw new UsageError(
      `${dataDir} is a single broker's log dir (it holds meta.properties): give --data-dir another directory`,
    );
  for (const n of plan.nodes) {
    const o = n.args.slice(1);
    const overrides: string[] = [];
    let file: string | undefined;
    for (let i = 0; i < o.length; i += 2) {
      if (o[i] === '-c') file = o[i + 1];
      else overrides.push(o[i + 1]);
    }
    try {
      loadBrokerConfig({ file, overrides });
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(`node ${n.nodeId}: ${err.message}`);
      throw err;
    }
  }
}

/** `samsa start ...` of one node, quoted for a POSIX shell. */
export function nodeCommandLine(n: LocalNodePlan, program = 'npx samsa'): string {
  return [program, ...n.args.map(shellQuote)].join(' ');
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The node's log line with its id: `node-2 | text` for text, a `"node":2` field first in a JSON line. */
export function prefixLine(nodeId: number, line: string, width = 1): string {
  if (line.startsWith('{') && line.endsWith('}'))
    return line.length === 2 ? `{"node":${nodeId}}` : `{"node":${nodeId},${line.slice(1)}`;
  return `node-${String(nodeId).padEnd(width)} | ${line}`;
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

interface RunningNode {
  plan: LocalNodePlan;
  proc: ChildProcess;
  ready: boolean;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  exited: Promise<void>;
  lastErrorLine: string;
}

export interface RunLocalClusterOptions {
  /** Children print human-readable lines (else pino's JSON lines). */
  pretty: boolean;
  /** How often to check that the nodes accept connections (ms). */
  pollMs?: number;
  /** Extra environment for the nodes. */
  env?: Record<string, string>;
  /** Resolves once the launcher has installed its signal handlers and started every node. */
  onSpawned?: (pids: number[]) => void;
}

/**
 * Starts the nodes of `plan` and resolves to the launcher's exit code once
 * they have all exited: 0 after a clean stop on a signal, 1 when a node died
 * before every node listened (the others are stopped), when every node died,
 * or when a second signal killed them.
 */
export function runLocalCluster(plan: LocalClusterPlan, io: CliIO, opts: RunLocalClusterOptions): Promise<number> {
  const width = String(plan.nodes.length).length;
  const nodes: RunningNode[] = [];
  let stopping: 'no' | 'term' | 'kill' = 'no';
  let allReady = false;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  let failed = false;

  const alive = () => nodes.filter((n) => n.exit === null);
  const signalAll = (sig: NodeJS.Signals) => {
    for (const n of alive()) {
      try {
        n.proc.kill(sig);
      } catch {
        /* already gone */
      }
    }
  };
  const stop = (why: 'signal' | 'failure') => {
    if (stopping !== 'no') return;
    stopping = 'term';
    if (why === 'signal') io.stderr(`samsa: stopping ${alive().length} node(s) (a second Ctrl-C kills them)\n`);
    signalAll('SIGTERM');
    // Giving up at startup: a node that cannot shut down cleanly (waiting for a quorum that will not form) is killed.
    if (why === 'failure')
      setTimeout(() => {
        if (stopping !== 'term' || alive().length === 0) return;
        stopping = 'kill';
        io.stderr(
          `samsa: node(s) ${alive()
            .map((n) => n.plan.nodeId)
            .join(', ')} still running ${FAILURE_STOP_MS / 1000} s after SIGTERM: killed\n`,
        );
        signalAll('SIGKILL');
      }, FAILURE_STOP_MS).unref();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping === 'no') return stop('signal');
    if (stopping === 'kill') return;
    stopping = 'kill';
    failed = true;
    io.stderr(`samsa: ${sig} again, killing ${alive().length} node(s)\n`);
    signalAll('SIGKILL');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  for (const plan1 of plan.nodes) {
    const proc = spawn(process.execPath, [...BROKER_NODE_FLAGS, SAMSA_BIN, ...plan1.args], {
      // Its own process group: a Ctrl-C in the terminal reaches the launcher only, which stops the nodes once.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        SAMSA_LOG_FORMAT: opts.pretty ? 'pretty' : 'json',
        [EXIT_WITH_PARENT_ENV]: '1',
        ...opts.env,
      },
    });
    proc.stdin!.on('error', () => {});
    const n: RunningNode = {
      plan: plan1,
      proc,
      ready: false,
      exit: null,
      exited: Promise.resolve(),
      lastErrorLine: '',
    };
    n.exited = new Promise<void>((resolve) => {
      proc.once('error', (err) => {
        n.lastErrorLine = err.message;
        if (n.exit === null) n.exit = { code: 127, signal: null };
        resolve();
        onExit(n);
      });
      proc.once('exit', (code, signal) => {
        if (n.exit === null) n.exit = { code, signal };
        resolve();
        onExit(n);
      });
    });
    readline
      .createInterface({ input: proc.stdout! })
      .on('line', (l) => io.stdout(prefixLine(n.plan.nodeId, l, width) + '\n'));
    readline.createInterface({ input: proc.stderr! }).on('line', (l) => {
      if (l.trim()) n.lastErrorLine = l.trim();
      io.stderr(prefixLine(n.plan.nodeId, l, width) + '\n');
    });
    nodes.push(n);
  }
  opts.onSpawned?.(nodes.map((n) => n.proc.pid ?? -1));

  function onExit(n: RunningNode): void {
    const how = n.exit!.signal ? `signal ${n.exit!.signal}` : `code ${n.exit!.code}`;
    if (stopping === 'no' && !allReady) {
      failed = true;
      io.stderr(
        `samsa: node ${n.plan.nodeId} exited (${how}) before it listened on ${n.plan.host}:${n.plan.clientPort}` +
          (n.lastErrorLine ? `: ${n.lastErrorLine.replace(/^samsa: /, '').replace(/\.$/, '')}` : '') +
          '; stopping the other nodes\n',
      );
      stop('failure');
    } else if (stopping === 'no') {
      const rest = alive().length;
      io.stderr(
        `samsa: node ${n.plan.nodeId} exited (${how}); ${rest} of ${nodes.length} node(s) still run.` +
          (rest > 0 ? ` Start it again with: ${nodeCommandLine(n.plan)}` : '') +
          '\n',
      );
      if (rest === 0) failed = true;
    } else if (n.exit!.code !== 0) failed = true;
    if (alive().length === 0) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      finish(failed ? 1 : 0);
    }
  }

  void (async () => {
    const pollMs = opts.pollMs ?? 100;
    const started = Date.now();
    let warned = false;
    while (!allReady && stopping === 'no') {
      for (const n of nodes) if (!n.ready && n.exit === null) n.ready = await connects(n.plan.host, n.plan.clientPort);
      if (nodes.every((n) => n.ready) && stopping === 'no' && alive().length === nodes.length) {
        allReady = true;
        io.stdout(
          `Local cluster of ${nodes.length} node(s) is up (controller quorum ${plan.voters}).\n` +
            `Bootstrap servers: ${plan.bootstrapServers}\n` +
            'Ctrl-C stops every node.\n',
        );
        return;
      }
      if (!warned && Date.now() - started > 30_000) {
        warned = true;
        const waiting = nodes
          .filter((n) => !n.ready)
          .map((n) => `${n.plan.nodeId} (${n.plan.host}:${n.plan.clientPort})`);
        io.stderr(`samsa: still waiting for node(s) ${waiting.join(', ')} to accept connections\n`);
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  })();

  return done;
}
