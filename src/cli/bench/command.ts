/**
 * `samsa bench`: one OpenMessaging-Benchmark-style workload against any
 * Kafka-compatible cluster — max produce throughput, catch-up consume
 * throughput, and end-to-end latency at a fixed rate — with Samsa's own
 * client. Flags are checked before anything is sent; output is a table or
 * --json (report.ts); the phases are in run.ts.
 */
import { randomBytes } from 'node:crypto';
import { type Command, CommanderError } from 'commander';
import { type CliIO, type ClientFlags, withClient } from '../context.ts';
import { UsageError, parseAcks, parseIntOption } from '../format.ts';
import { STAMP_BYTES } from './stamp.ts';
import { REQUEST_BYTES } from './producer.ts';
import { type BenchPlan, runBench } from './run.ts';
import { benchJson, benchText } from './report.ts';

interface BenchFlags extends ClientFlags {
  topic?: string;
  partitions?: string;
  replicationFactor: string;
  size: string;
  acks: string;
  messages?: string;
  duration?: string;
  batchBytes: string;
  requestBytes: string;
  lingerMs: string;
  maxInFlight: string;
  rate?: string;
  warmup: string;
  latencySeconds: string;
  fetchMaxWaitMs: string;
  latency: boolean;
  inProcess?: boolean;
  keepTopic?: boolean;
}

/** Largest --size: well above any broker's message.max.bytes default. */
const MAX_SIZE = 64 * 1024 * 1024;
/** Default volume of the max-throughput phase when neither --messages nor --duration is given. */
const DEFAULT_BYTES = 500e6;

/** A decimal number > `above` (or >= when `orEqual`). */
function parseSeconds(s: string, what: string, orEqual = false): number {
  const n = Number(s.trim());
  if (s.trim() === '' || !Number.isFinite(n) || (orEqual ? n < 0 : n <= 0))
    throw new UsageError(`${what} must be a number ${orEqual ? '>= 0' : '> 0'}, got '${s}'`);
  return n;
}

export function planFromFlags(o: BenchFlags): BenchPlan {
  const size = parseIntOption(o.size, '--size', STAMP_BYTES);
  if (size > MAX_SIZE) throw new UsageError(`--size must be at most ${MAX_SIZE}, got ${size}`);
  if (o.messages !== undefined && o.duration !== undefined)
    throw new UsageError('give either --messages or --duration, not both');
  const messages = o.messages !== undefined ? parseIntOption(o.messages, '--messages', 1) : undefined;
  const durationSec = o.duration !== undefined ? parseSeconds(o.duration, '--duration') : undefined;
  const timeoutMs = parseIntOption(o.timeoutMs ?? '30000', '--timeout-ms', 1);
  // its produce and fetch connections are its own (bench/route.ts), without TLS or SASL
  if (o.commandConfig !== undefined) throw new UsageError('samsa bench does not take --command-config yet');
  return {
    bootstrap: o.bootstrapServer,
    topic: o.topic ?? `samsa-bench-${randomBytes(4).toString('hex')}`,
    partitions: o.partitions === undefined ? undefined : parseIntOption(o.partitions, '--partitions', 1),
    replicationFactor: parseIntOption(o.replicationFactor, '--replication-factor', 1),
    size,
    acks: parseAcks(o.acks),
    messages: messages ?? (durationSec === undefined ? Math.max(1000, Math.round(DEFAULT_BYTES / size)) : undefined),
    durationSec,
    batchBytes: parseIntOption(o.batchBytes, '--batch-bytes', 1),
    requestBytes: parseIntOption(o.requestBytes, '--request-bytes', 1),
    lingerMs: parseIntOption(o.lingerMs, '--linger-ms', 0),
    maxInFlight: parseIntOption(o.maxInFlight, '--max-in-flight', 1),
    latency: o.latency
      ? {
          rate: o.rate === undefined ? undefined : parseSeconds(o.rate, '--rate'),
          warmupSec: parseSeconds(o.warmup, '--warmup', true),
          seconds: parseSeconds(o.latencySeconds, '--latency-seconds'),
          fetchMaxWaitMs: parseIntOption(o.fetchMaxWaitMs, '--fetch-max-wait-ms', 0),
          inProcess: !!o.inProcess,
        }
      : null,
    keepTopic: !!o.keepTopic,
    requestTimeoutMs: timeoutMs,
  };
}

export function registerBenchCommand(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  clientOptions(
    program
      .command('bench')
      .description(
        'benchmark a cluster with one workload: max produce throughput, catch-up consume throughput, end-to-end latency at a fixed rate',
      )
      .option('--topic <name>', 'topic to use; created when missing (default: samsa-bench-<random>)')
      .option('--partitions <n>', 'partitions of the topic (default 1)')
      .option('--replication-factor <n>', 'replicas per partition of a new topic', '1')
      .option('--size <bytes>', `value size (at least ${STAMP_BYTES}: each value starts with its send time)`, '1024')
      .option('--acks <acks>', 'all / -1, 1 or 0', 'all')
      .option('--messages <n>', 'messages in the max-throughput phase (default: 500 MB of values, at least 1000)')
      .option('--duration <seconds>', 'run the max-throughput phase this long instead of a message count')
      .option('--batch-bytes <n>', 'largest record batch (one per partition per request)', '1000000')
      .option(
        '--request-bytes <n>',
        'most record bytes per Produce request (like max.request.size)',
        String(REQUEST_BYTES),
      )
      .option('--linger-ms <ms>', 'latency phase: how long the producer gathers due messages before a request', '2')
      .option('--max-in-flight <n>', 'produce requests in flight per broker connection', '8')
      .option('--rate <msgs/s>', 'latency phase rate (default: 50% of the measured max msgs/s)')
      .option('--warmup <seconds>', 'latency phase: seconds sent but not recorded first', '1')
      .option('--latency-seconds <seconds>', 'latency phase: seconds recorded after the warm-up', '5')
      .option('--fetch-max-wait-ms <ms>', 'latency phase: long-poll wait of the consumer Fetch', '100')
      .option('--no-latency', 'skip the latency phase')
      .option(
        '--in-process',
        'latency phase: run producer and consumer in this process (one event loop: latency includes their contention) instead of two child processes',
      )
      .option('--keep-topic', 'do not delete the topic afterwards (a topic that existed before is never deleted)')
      .addHelpText(
        'after',
        `
Phases:
  1. produce: fixed-size values round-robin over the partitions, one batch per
     partition per Produce request, --max-in-flight requests pipelined per broker;
  2. consume: Fetch from the start offsets of phase 1 to its end, counted exactly;
  3. latency: the same producer paced at --rate (sending what is due every
     --linger-ms) and a long-polling consumer; each value carries its intended
     send time, so a producer that falls behind counts as latency (no
     coordinated omission). By default producer and consumer are two child
     processes of this Node binary; with --in-process they share this process.
The benchmark client runs on this machine and competes with a local broker for
CPU; MB/s counts value bytes (MB = 10^6). For side-by-side runs against other
brokers see \`npm run bench\` (docs/performance.md).

Examples:
  samsa bench -b kafka1:9092 --size 1024 --partitions 1 --acks 1
  samsa bench --partitions 16 --acks all --duration 30 --json
`,
      ),
  ).action(async (o: BenchFlags) => {
    const plan = planFromFlags(o);
    const workload = { size: plan.size, acks: plan.acks };
    await withClient(o, async (admin) => {
      // Ctrl-C / SIGTERM: stop where the run is, delete the topic it created (runBench does), exit 130.
      const abort = new AbortController();
      let signalName: NodeJS.Signals | undefined;
      const onSignal = (sig: NodeJS.Signals) => {
        signalName = sig;
        abort.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const r = await runBench(admin, plan, abort.signal);
        io.stdout(o.json ? JSON.stringify(benchJson(r, workload)) + '\n' : benchText(r, workload));
      } catch (err) {
        if (!signalName) throw err;
        io.stderr(
          `samsa: ${signalName}: benchmark stopped${plan.keepTopic ? '' : `; a topic this run created is deleted`}\n`,
        );
        throw new CommanderError(130, 'samsa.interrupted', '');
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
  });
}
