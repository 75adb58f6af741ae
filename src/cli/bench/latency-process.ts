/**
 * One side of a latency run as a process of its own, so producer, consumer
 * and whoever drives them do not share an event loop:
 *
 *   node --import tsx <entry> produce <json LatencyClientConfig>
 *   node --import tsx <entry> consume <json LatencyClientConfig>
 *
 * It connects, prints 'ready', reads the start time (CLOCK_MONOTONIC µs) as
 * one line on stdin, runs, and prints one JSON line (ProducerReport or
 * ConsumerReport); the consumer writes its latencies (Float64, µs) to
 * `outFile`. A failure is `<role>: <error>` on stderr and exit code 1.
 * Entries: src/cli/bench/latency-child.ts (samsa bench) and
 * bench/harness/samsa-latency-client.ts (npm run bench).
 */
import fs from 'node:fs';
import {
  type LatencyClientConfig,
  type LatencySide,
  prepareLatencyConsumer,
  prepareLatencyProducer,
} from './latency-client.ts';

export type LatencyRole = 'produce' | 'consume';

/** Prints 'ready', then waits for the start time (one line on stdin). */
async function startTime(): Promise<number> {
  process.stdout.write('ready\n');
  let buf = '';
  for await (const chunk of process.stdin) {
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl >= 0) return Number(buf.slice(0, nl));
  }
  throw new Error('stdin closed before the start time came');
}

async function runSide<R>(side: LatencySide<R>, output: (r: R) => object): Promise<void> {
  try {
    const r = await side.run(await startTime());
    process.stdout.write(JSON.stringify(output(r)) + '\n');
  } finally {
    await side.close();
  }
}

export async function runLatencyRole(role: LatencyRole, cfg: LatencyClientConfig): Promise<void> {
  if (role === 'produce') return runSide(await prepareLatencyProducer(cfg), (r) => r);
  return runSide(await prepareLatencyConsumer(cfg), ({ report, latencyUs }) => {
    if (cfg.outFile)
      fs.writeFileSync(cfg.outFile, Buffer.from(latencyUs.buffer, latencyUs.byteOffset, latencyUs.byteLength));
    return report;
  });
}

/** Runs the role named in `argv` ([role, json]) and exits; does nothing for other arguments. */
export function latencyProcessMain(argv: string[]): void {
  const [role, json] = argv;
  if (role !== 'produce' && role !== 'consume') return;
  runLatencyRole(role, JSON.parse(json) as LatencyClientConfig).then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`${role}: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
