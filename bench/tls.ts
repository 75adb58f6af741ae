/**
 * npm run bench:tls [-- --mib 256] [--size 1024] [--rounds 3]
 *
 * Produce and fetch throughput over TLS as a ratio to PLAINTEXT, on one
 * broker (a child process) with a PLAINTEXT and an SSL listener, in the same
 * run. The load is kcat (librdkafka) in its own process:
 * - produce: `kcat -P -l FILE` of `--mib` MiB of `--size`-byte records,
 *   acks=1, into a fresh 1-partition topic per run;
 * - fetch: `kcat -C -o beginning -c N` of the first produced topic (its
 *   segments in the page cache), the same bytes over each listener.
 * Rounds alternate PLAINTEXT and SSL; the best round of each is kept (the
 * machine is shared). Prints MB/s (10^6 bytes), the broker's CPU seconds per
 * GB, and SSL/PLAINTEXT ratios.
 *
 * Over PLAINTEXT a fetch sends the segment bytes with sendfile(2) (no copy
 * through the broker); over TLS they must be encrypted in the process, so
 * the broker reads each file region into pooled memory 128 KiB at a time and
 * writes it to the TLS socket, reading the next piece once the previous one
 * has been written (connection.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makePki } from '../test/helpers/certs.ts';
import { freePort, procCpu, run } from './harness/proc.ts';
import { startSamsa } from './harness/targets/samsa.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const mib = Number(arg('mib', '256'));
const size = Number(arg('size', '1024'));
const rounds = Number(arg('rounds', '3'));
const count = Math.floor((mib * 1024 * 1024) / size);
const bytes = count * size;
const KCAT = process.env.SAMSA_TEST_KCAT ?? 'kcat';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-bench-tls-'));
const pki = makePki();
const server = pki.issue('broker', '/CN=localhost');
const plainPort = await freePort();
const sslPort = await freePort();
const broker = await startSamsa(path.join(dir, 'data'), plainPort, [
  `listeners=PLAINTEXT://127.0.0.1:${plainPort},SSL://127.0.0.1:${sslPort}`,
  'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT',
  'ssl.keystore.type=PEM',
  `ssl.keystore.location=${server.keystore}`,
  'num.partitions=1',
  'auto.create.topics.enable=true',
]);

const records = path.join(dir, 'records.txt');
{
  const line = `${'x'.repeat(size - 1)}\n`;
  const fd = fs.openSync(records, 'w');
  const chunk = line.repeat(Math.max(1, Math.floor((4 * 1024 * 1024) / size)));
  const perChunk = chunk.length / size;
  let left = count;
  while (left > 0) {
    const n = Math.min(left, perChunk);
    fs.writeSync(fd, n === perChunk ? chunk : line.repeat(n));
    left -= n;
  }
  fs.closeSync(fd);
}

type Listener = 'PLAINTEXT' | 'SSL';
const clientArgs = (l: Listener) => [
  '-b',
  `127.0.0.1:${l === 'SSL' ? sslPort : plainPort}`,
  ...(l === 'SSL' ? ['-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${pki.ca}`] : []),
];

async function measure(what: string, l: Listener, args: string[]): Promise<{ mbps: number; cpuPerGb: number }> {
  const cpu0 = procCpu(broker.pid) ?? 0;
  const r = await run(KCAT, [...clientArgs(l), ...args], { stdoutTo: '/dev/null', timeoutMs: 600_000 });
  const cpu = (procCpu(broker.pid) ?? 0) - cpu0;
  if (r.code !== 0) throw new Error(`${what} over ${l}: kcat exited ${r.code}: ${r.stderr}`);
  return { mbps: bytes / 1e6 / r.seconds, cpuPerGb: cpu / (bytes / 1e9) };
}

const produceTopic = (l: Listener, round: number) => `bench-tls-${l.toLowerCase()}-${round}`;
const produce = (l: Listener, round: number) =>
  measure('produce', l, [
    '-P',
    '-t',
    produceTopic(l, round),
    '-l',
    records,
    '-X',
    'acks=1',
    '-X',
    'linger.ms=5',
    '-X',
    'batch.size=1000000',
    '-X',
    'queue.buffering.max.kbytes=1048576',
  ]);
const fetch = (l: Listener) =>
  measure('fetch', l, [
    '-C',
    '-t',
    produceTopic('PLAINTEXT', 0),
    '-o',
    'beginning',
    '-c',
    String(count),
    '-f',
    '%o\n',
    '-q',
  ]);

const best = (xs: { mbps: number; cpuPerGb: number }[]) => xs.reduce((a, b) => (b.mbps > a.mbps ? b : a));
const results: Record<string, Record<Listener, { mbps: number; cpuPerGb: number }[]>> = {
  produce: { PLAINTEXT: [], SSL: [] },
  fetch: { PLAINTEXT: [], SSL: [] },
};
try {
  for (let round = 0; round < rounds; round++) {
    for (const l of ['PLAINTEXT', 'SSL'] as const) results.produce[l].push(await produce(l, round));
    for (const l of ['PLAINTEXT', 'SSL'] as const) results.fetch[l].push(await fetch(l));
  }
  console.log(
    `# bench:tls: ${mib} MiB of ${size}-byte records per run (${count} records), best of ${rounds} rounds, kcat (librdkafka) load, one broker, 1 partition`,
  );
  console.log('phase    listener    MB/s   broker CPU s/GB   SSL/PLAINTEXT');
  for (const phase of ['produce', 'fetch'] as const) {
    const p = best(results[phase].PLAINTEXT);
    const s = best(results[phase].SSL);
    for (const [l, r] of [
      ['PLAINTEXT', p],
      ['SSL', s],
    ] as const)
      console.log(
        `${phase.padEnd(8)} ${l.padEnd(10)} ${r.mbps.toFixed(1).padStart(6)}   ${r.cpuPerGb.toFixed(2).padStart(14)}   ${l === 'SSL' ? (s.mbps / p.mbps).toFixed(2) : ''}`,
      );
  }
} finally {
  await broker.stop();
  pki.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
}
