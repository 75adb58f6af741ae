/**
 * A private network for fault tests: one Linux network namespace per broker,
 * each with a veth pair whose host end is enslaved to a bridge in the root
 * namespace. The bridge has 10.77.S.1 (the clients' address: clients run in
 * the root namespace), broker i has 10.77.S.(10 + i). A network partition is
 * an iptables DROP rule in the receiving broker's namespace, so the host's
 * own network and firewall stay untouched.
 *
 * Names carry the owning process id (`smf<pid>n<i>`, `smf<pid>b`,
 * `smf<pid>h<i>`): `sweepStale` removes what a dead owner left behind without
 * touching a concurrent run's network. `teardown` removes everything (the
 * namespaces take their veth ends and iptables rules with them); it is also
 * registered as an exit hook, so a test that throws or a process that is
 * interrupted does not leave anything behind. Needs root, `ip` and `iptables`.
 */
import { execFileSync } from 'node:child_process';

const PREFIX = 'smf';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryIp(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    /* already gone */
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether this machine can run the fault tests (root, `ip netns`, `iptables`); the reason when not. */
export function netnsUnsupported(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const cmd of [
    ['ip', '-V'],
    ['iptables', '-V'],
  ]) {
    try {
      execFileSync(cmd[0], cmd.slice(1), { stdio: 'ignore' });
    } catch {
      return `needs ${cmd[0]} (apt-get install ${cmd[0] === 'ip' ? 'iproute2' : 'iptables'})`;
    }
  }
  return undefined;
}

/** Removes the namespaces and bridges of fault-test runs whose process is gone. */
export function sweepStale(): string[] {
  const removed: string[] = [];
  const re = new RegExp(`^${PREFIX}(\\d+)(n\\d+|b)$`);
  const nsNames = ip('netns', 'list')
    .split('\n')
    .map((l) => l.split(/\s+/)[0])
    .filter(Boolean);
  for (const name of nsNames) {
    const m = re.exec(name);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
      killNamespaceProcesses(name);
      tryIp('netns', 'del', name);
      removed.push(name);
    }
  }
  const links = ip('-o', 'link', 'show')
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((x): x is string => !!x);
  for (const link of links) {
    const m = new RegExp(`^${PREFIX}(\\d+)(b|h\\d+)$`).exec(link);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
      tryIp('link', 'del', link);
      removed.push(link);
    }
  }
  return removed;
}

function killNamespaceProcesses(ns: string): void {
  let pids: string[] = [];
  try {
    pids = ip('netns', 'pids', ns).split('\n').filter(Boolean);
  } catch {
    return;
  }
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export interface FaultNetwork {
  /** The namespace name of node i (1-based). */
  ns(node: number): string;
  /** The address of node i. */
  addr(node: number): string;
  /** The bridge's address: where the clients' packets come from. */
  readonly clientAddr: string;
  readonly nodes: number;
  /** Drops every packet from node `from` arriving at node `to` (one direction). */
  drop(from: number, to: number): void;
  /** Drops every packet from the clients (the root namespace) arriving at node `to`. */
  dropClients(to: number): void;
  /** Cuts `node` off the other nodes in both directions; with `clients`, off the clients too. */
  isolate(node: number, opts?: { clients?: boolean }): void;
  /** Removes every DROP rule. */
  heal(): void;
  /** The rules in force, `from>to` (`c` for the clients), for logs. */
  rules(): string[];
  /** The command prefix that runs a program inside node i's namespace. */
  execPrefix(node: number): string[];
  teardown(): void;
}

function iptables(ns: string, ...args: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, 'iptables', '-w', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A free 10.77.S.0/24 (no local address in it yet). */
function pickSubnet(): number {
  const addrs = ip('-4', '-o', 'addr', 'show');
  const start = 20 + (process.pid % 200);
  for (let i = 0; i < 230; i++) {
    const s = 20 + ((start - 20 + i) % 230);
    if (!addrs.includes(`10.77.${s}.`)) return s;
  }
  throw new Error('no free 10.77.x.0/24 subnet');
}

const exitHooks = new Set<() => void>();
let hooked = false;
function onExit(fn: () => void): () => void {
  exitHooks.add(fn);
  if (!hooked) {
    hooked = true;
    const runAll = () => {
      for (const f of [...exitHooks]) {
        try {
          f();
        } catch {
          /* best effort at exit */
        }
      }
      exitHooks.clear();
    };
    process.on('exit', runAll);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => {
        runAll();
        process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
      });
    }
  }
  return () => exitHooks.delete(fn);
}

/** Creates the namespaces, veth pairs and bridge for `nodes` brokers. */
export function createFaultNetwork(nodes: number): FaultNetwork {
  const why = netnsUnsupported();
  if (why) throw new Error(`fault network: ${why}`);
  sweepStale();
  const subnet = pickSubnet();
  const tag = `${PREFIX}${process.pid}`;
  const bridge = `${tag}b`;
  const nsName = (i: number) => `${tag}n${i}`;
  const hostEnd = (i: number) => `${tag}h${i}`;
  const addr = (i: number) => `10.77.${subnet}.${10 + i}`;
  const clientAddr = `10.77.${subnet}.1`;
  const rules = new Set<string>();
  let down = false;

  const teardown = () => {
    if (down) return;
    down = true;
    for (let i = 1; i <= nodes; i++) {
      killNamespaceProcesses(nsName(i));
      tryIp('netns', 'del', nsName(i));
      tryIp('link', 'del', hostEnd(i));
    }
    tryIp('link', 'del', bridge);
    unhook();
  };
  const unhook = onExit(teardown);

  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${clientAddr}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (let i = 1; i <= nodes; i++) {
      const ns = nsName(i);
      ip('netns', 'add', ns);
      ip('link', 'add', hostEnd(i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('link', 'set', hostEnd(i), 'master', bridge);
      ip('link', 'set', hostEnd(i), 'up');
      ip('-n', ns, 'addr', 'add', `${addr(i)}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
  } catch (err) {
    teardown();
    throw err;
  }

  const net: FaultNetwork = {
    ns: nsName,
    addr,
    clientAddr,
    nodes,
    drop(from, to) {
      const key = `${from}>${to}`;
      if (rules.has(key)) return;
      iptables(nsName(to), '-A', 'INPUT', '-s', addr(from), '-j', 'DROP');
      rules.add(key);
    },
    dropClients(to) {
      const key = `c>${to}`;
      if (rules.has(key)) return;
      iptables(nsName(to), '-A', 'INPUT', '-s', clientAddr, '-j', 'DROP');
      rules.add(key);
    },
    isolate(node, opts = {}) {
      for (let j = 1; j <= nodes; j++) {
        if (j === node) continue;
        net.drop(j, node);
        net.drop(node, j);
      }
      if (opts.clients) net.dropClients(node);
    },
    heal() {
      for (let i = 1; i <= nodes; i++) iptables(nsName(i), '-F', 'INPUT');
      rules.clear();
    },
    rules: () => [...rules],
    execPrefix: (i) => ['ip', 'netns', 'exec', nsName(i)],
    teardown,
  };
  return net;
}
