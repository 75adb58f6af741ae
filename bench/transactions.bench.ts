/**
 * Transactional produce against idempotent produce, in the same run, on one
 * broker (in this process, a fresh temp data dir). The producer is
 * confluent-kafka-python (librdkafka; Samsa's own client has no transactions)
 * in a child process, acks=all, linger.ms=5, records round-robin over the
 * topic's partitions. Each round produces records three ways: --records
 * idempotent (one flush at the end), --records in transactions of 10,000
 * records, and --small-records in transactions of 100 records (fewer: each
 * commit is a round trip, so this mode is slow per record) (begin, produce, commit_transaction, one
 * after the other; a commit waits for the markers on every partition of the
 * transaction). Prints records/s per round and mode, and the median of each
 * mode with the median of the rounds' ratios to idempotent produce (each
 * round's modes run back to back, so a round's ratio is the steadier figure
 * on a shared machine). With --kafka, the same rounds
 * run against the reference Apache Kafka (one KRaft node,
 * scripts/kafka-ref.sh) afterwards, for comparison.
 *
 *   npm run bench:transactions [-- --records 500000] [--small-records 20000] [--rounds 3] [--value-bytes 100] [--partitions 3] [--kafka]
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KafkaClient } from '../src/client/client.ts';
import { startBroker } from '../src/index.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '500000' },
    'small-records': { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    'value-bytes': { type: 'string', default: '100' },
    partitions: { type: 'string', default: '3' },
    kafka: { type: 'boolean', default: false },
  },
});
const PYTHON = process.env.SAMSA_TEST_PYTHON ?? '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'py', 'ck_txn_throughput.py');
const MODES = ['idempotent', 'txn:100', 'txn:10000'];
const TOPIC = 'bench-txn';

interface Figure {
  mode: string;
  records: number;
  seconds: number;
  recordsPerSec: number;
  transactions: number;
}

function runProducer(bootstrap: string): Promise<Figure[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      PYTHON,
      [
        SCRIPT,
        bootstrap,
        TOPIC,
        args.partitions,
        args['value-bytes'],
        ...MODES.map((m) => `${m}@${m === 'txn:100' ? args['small-records'] : args.records}`),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`producer exited ${code}: ${err}`));
      resolve(
        out
          .split('\n')
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l) as Figure),
      );
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function rounds(name: string, bootstrap: string): Promise<void> {
  const admin = new KafkaClient({ bootstrapServers: bootstrap, clientId: 'bench-admin' });
  try {
    await admin.createTopics([{ name: TOPIC, numPartitions: Number(args.partitions), replicationFactor: 1 }]);
    console.log(
      `${name}: ` +
        `transactional vs idempotent produce: records of ${args['value-bytes']} B, ${args.records} per mode ` +
        `(${args['small-records']} in transactions of 100), ` +
        `${args.partitions} partitions, acks=all, confluent-kafka-python ${args.rounds} rounds`,
    );
    const byMode = new Map<string, number[]>(MODES.map((m) => [m, []]));
    const ratios = new Map<string, number[]>(MODES.map((m) => [m, []]));
    for (let round = 1; round <= Number(args.rounds); round++) {
      const figures = await runProducer(bootstrap);
      const idem = figures.find((f) => f.mode === 'idempotent')!.recordsPerSec;
      for (const f of figures) {
        byMode.get(f.mode)!.push(f.recordsPerSec);
        ratios.get(f.mode)!.push(f.recordsPerSec / idem);
        console.log(
          `round ${round} ${f.mode.padEnd(10)} ${Math.round(f.recordsPerSec).toString().padStart(8)} records/s ` +
            `(${f.records} in ${f.seconds.toFixed(2)} s, ${f.transactions} transactions) ratio ${(f.recordsPerSec / idem).toFixed(2)}`,
        );
      }
    }
    console.log('median:');
    for (const m of MODES) {
      const v = median(byMode.get(m)!);
      console.log(
        `  ${m.padEnd(10)} ${Math.round(v).toString().padStart(8)} records/s  median of the rounds' ratios to idempotent ${median(ratios.get(m)!).toFixed(2)}`,
      );
    }
  } finally {
    await admin.close();
  }
}

async function main() {
  const broker = await startBroker({
    logLevel: 'warn',
    overrides: { 'transaction.state.log.num.partitions': '3', 'transaction.max.timeout.ms': '120000' },
  });
  try {
    await rounds('Samsa', broker.bootstrapServers);
  } finally {
    await broker.close();
  }
  if (!args.kafka) return;
  const { startReferenceKafka } = await import('../test/helpers/kafka-ref.ts');
  const k = await startReferenceKafka({ 'transaction.state.log.num.partitions': '3' });
  try {
    await rounds('Apache Kafka (reference)', k.bootstrapServers);
  } finally {
    await k.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
