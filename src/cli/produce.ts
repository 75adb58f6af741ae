/**
 * `samsa produce TOPIC`: one record per stdin line, optional key split by a
 * separator, headers, a fixed partition or Kafka's key partitioning, acks and
 * compression; records are sent in batches as lines arrive.
 */
import readline from 'node:readline';
import type { Command, OptionValues } from 'commander';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import {
  UsageError,
  collect,
  parseAcks,
  parseCompression,
  parseIntOption,
  parseKeyValue,
  splitKeyValue,
} from './format.ts';
import type { KafkaClient, ProduceRecord } from '../client/client.ts';
import { partitionForKey } from '../client/partitioner.ts';

const BATCH_RECORDS = 500;
const LINGER_MS = 20;

/** Picks partitions: fixed, by key hash, or round-robin per batch for unkeyed records. */
export class PartitionChooser {
  private next = 0;
  constructor(
    private readonly count: number,
    private readonly fixed: number | undefined,
  ) {}
  choose(key: string | null): number {
    if (this.fixed !== undefined) return this.fixed;
    if (key !== null) return partitionForKey(Buffer.from(key, 'utf8'), this.count);
    return this.next;
  }
  /** Unkeyed records move to the next partition after each batch (sticky, like Kafka's producer). */
  advance(): void {
    this.next = (this.next + 1) % this.count;
  }
}

export function registerProduceCommand(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  clientOptions(
    program
      .command('produce <topic>')
      .description('send stdin lines as records')
      .option('--key-separator <sep>', 'split each line into key and value at the first <sep>')
      .option('--header <key=value>', 'a header added to every record, repeatable', collect)
      .option('--partition <n>', 'send every record to this partition')
      .option('--acks <acks>', 'all / -1, 1 or 0', 'all')
      .option('--compression <codec>', 'none, gzip, snappy, lz4 or zstd', 'none'),
  ).action(async (topic: string, o: ClientFlags & OptionValues) => {
    const acks = parseAcks(o.acks);
    const compression = parseCompression(o.compression);
    const fixed = o.partition === undefined ? undefined : parseIntOption(o.partition, '--partition', 0);
    const headers = (o.header ?? []).map((h: string) => {
      const [key, value] = parseKeyValue(h, '--header');
      return { key, value };
    });
    await withClient(o, async (c) => {
      // Like a producer, ask the broker to auto-create an absent topic (if it is configured to).
      const partitions = await c.partitionsFor(topic, { autoCreate: true });
      if (fixed !== undefined && !partitions.includes(fixed))
        throw new UsageError(`topic '${topic}' has no partition ${fixed} (it has ${partitions.length})`);
      const total = await produceLines(c, topic, io.stdin, new PartitionChooser(partitions.length, fixed), {
        separator: o.keySeparator,
        headers,
        acks,
        compression,
      });
      if (o.json) io.stdout(JSON.stringify({ topic, produced: total }) + '\n');
    });
  });
}

/** Reads lines until end of input and sends them; resolves to the number of records sent. */
export async function produceLines(
  c: KafkaClient,
  topic: string,
  input: NodeJS.ReadableStream,
  chooser: PartitionChooser,
  opts: {
    separator?: string;
    headers: { key: string; value: string }[];
    acks: -1 | 0 | 1;
    compression: ReturnType<typeof parseCompression>;
  },
): Promise<number> {
  let pending = new Map<number, ProduceRecord[]>();
  let count = 0;
  let sent = 0;
  let chain: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let failure: Error | undefined;

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (count === 0) return;
    const batch = pending;
    pending = new Map();
    const n = count;
    count = 0;
    chooser.advance();
    chain = chain.then(async () => {
      for (const [partition, records] of batch)
        await c.produce(topic, partition, records, { acks: opts.acks, compression: opts.compression });
      sent += n;
    });
    chain.catch((err) => {
      failure ??= err;
    });
  };

  const rl = readline.createInterface({ input, crlfDelay: Infinity, terminal: false });
  for await (const line of rl) {
    if (failure) break;
    const { key, value } = splitKeyValue(line, opts.separator);
    const partition = chooser.choose(key);
    const list = pending.get(partition) ?? [];
    list.push({ key, value, headers: opts.headers });
    pending.set(partition, list);
    if (++count >= BATCH_RECORDS) flush();
    else timer ??= setTimeout(flush, LINGER_MS);
  }
  flush();
  await chain;
  if (failure) throw failure;
  return sent;
}
