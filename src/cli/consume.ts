/**
 * `samsa consume TOPIC`: read records from one or all partitions, starting
 * at the beginning, the end, an offset or N from the end (or a group's
 * committed offset with --group), printing each through a kcat-style
 * --format template or as JSON lines; stops at --max-messages, at the end
 * with --exit-at-end, or on Ctrl-C. With --group it is a member of the
 * consumer group: it reads only the partitions assigned to it, follows
 * rebalances, commits after each batch and leaves the group when it stops.
 */
import type { Command } from 'commander';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import { type StartOffset, UsageError, formatRecord, parseIntOption, parseStartOffset, recordJson } from './format.ts';
import type { KafkaClient, FetchResult } from '../client/client.ts';
import { GroupConsumer } from '../client/group-consumer.ts';

export const DEFAULT_FORMAT = '%v\\n';

interface ConsumeFlags extends ClientFlags {
  fromBeginning?: boolean;
  offset?: string;
  partition?: string;
  maxMessages?: string;
  format?: string;
  exitAtEnd?: boolean;
  group?: string;
}

/** Resolves a start spec to an offset of one partition. */
export async function resolveStart(
  c: KafkaClient,
  topic: string,
  partition: number,
  spec: StartOffset,
  committed: Map<number, number>,
): Promise<number> {
  switch (spec.kind) {
    case 'beginning':
      return (await c.listOffsets(topic, partition, 'earliest')).offset;
    case 'end':
      return (await c.listOffsets(topic, partition, 'latest')).offset;
    case 'absolute':
      return spec.offset;
    case 'fromEnd': {
      const [lo, hi] = await Promise.all([
        c.listOffsets(topic, partition, 'earliest'),
        c.listOffsets(topic, partition, 'latest'),
      ]);
      return Math.max(lo.offset, hi.offset - spec.count);
    }
    case 'stored': {
      const o = committed.get(partition);
      return o !== undefined && o >= 0 ? o : (await c.listOffsets(topic, partition, 'latest')).offset;
    }
  }
}

export function registerConsumeCommand(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  clientOptions(
    program
      .command('consume <topic>')
      .description('print records of a topic')
      .option('--from-beginning', 'start at the earliest offset (same as --offset beginning)')
      .option(
        '--offset <spec>',
        'beginning | end | stored | <n> | -<n> (n before the end); default end; with --group the committed offsets come first and beginning/end apply where none is committed',
      )
      .option('--partition <n>', 'read only this partition (default: all)')
      .option('--max-messages <n>', 'stop after this many records')
      .option('-e, --exit-at-end', 'stop once every partition is read to its end')
      .option(
        '--format <template>',
        'output template: %k key, %v value, %h headers, %T timestamp, %o offset, %p partition, %t topic, \\n',
        DEFAULT_FORMAT,
      )
      .option(
        '--group <id>',
        'join this consumer group: read only the partitions it assigns, starting at its committed offsets, and commit as it goes (with --partition: no membership, that partition only)',
      ),
  ).action(async (topic: string, o: ConsumeFlags) => {
    if (o.fromBeginning && o.offset) throw new UsageError('give either --from-beginning or --offset, not both');
    const spec: StartOffset = o.fromBeginning
      ? { kind: 'beginning' }
      : o.offset
        ? parseStartOffset(o.offset)
        : o.group
          ? { kind: 'stored' }
          : { kind: 'end' };
    if (spec.kind === 'stored' && !o.group) throw new UsageError('--offset stored needs --group');
    const max = o.maxMessages === undefined ? Infinity : parseIntOption(o.maxMessages, '--max-messages', 1);
    const only = o.partition === undefined ? undefined : parseIntOption(o.partition, '--partition', 0);
    await withClient(o, (c) =>
      consume(c, topic, io, {
        spec,
        max,
        only,
        format: o.format ?? DEFAULT_FORMAT,
        json: !!o.json,
        exitAtEnd: !!o.exitAtEnd,
        group: o.group,
      }),
    );
  });
}

export async function consume(
  c: KafkaClient,
  topic: string,
  io: CliIO,
  opts: {
    spec: StartOffset;
    max: number;
    only?: number;
    format: string;
    json: boolean;
    exitAtEnd: boolean;
    group?: string;
  },
): Promise<number> {
  const all = await c.partitionsFor(topic);
  if (opts.group && opts.only === undefined) return consumeInGroup(c, topic, io, { ...opts, group: opts.group });
  if (opts.only !== undefined && !all.includes(opts.only))
    throw new UsageError(`topic '${topic}' has no partition ${opts.only} (it has ${all.length})`);
  const partitions = opts.only === undefined ? all : [opts.only];
  const committed = new Map<number, number>();
  if (opts.group)
    for (const x of await c.offsetFetch(opts.group, [{ topic, partitions }])) committed.set(x.partition, x.offset);
  const position = new Map<number, number>();
  for (const p of partitions) position.set(p, await resolveStart(c, topic, p, opts.spec, committed));

  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let printed = 0;
  try {
    const atEnd = new Set<number>();
    while (!stopping && printed < opts.max) {
      const wait = partitions.length > 1 ? 100 : 500;
      const results = await Promise.all(
        partitions.map((p) => c.fetch(topic, p, position.get(p)!, { maxWaitMs: wait })),
      );
      const commits: { topic: string; partition: number; offset: number }[] = [];
      for (let i = 0; i < partitions.length && printed < opts.max; i++) {
        const p = partitions[i];
        const r = results[i];
        printed += printFetched(io, opts, topic, p, r, position, opts.max - printed);
        if (position.get(p)! >= r.highWatermark) atEnd.add(p);
        else atEnd.delete(p);
        if (opts.group && r.records.length > 0) commits.push({ topic, partition: p, offset: position.get(p)! });
      }
      if (opts.group && commits.length > 0) await c.offsetCommit(opts.group, commits);
      if (opts.exitAtEnd && atEnd.size === partitions.length) break;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return printed;
}

/**
 * Prints up to `budget` records of one partition's fetch result and moves its
 * position past them (or to the log start offset when the position fell below
 * it); returns how many were printed.
 */
function printFetched(
  io: CliIO,
  opts: { json: boolean; format: string },
  topic: string,
  p: number,
  r: FetchResult,
  position: Map<number, number>,
  budget: number,
): number {
  let n = 0;
  for (const rec of r.records) {
    if (n >= budget) break;
    io.stdout(
      opts.json
        ? recordJson(rec, { topic, partition: p }) + '\n'
        : formatRecord(opts.format, rec, { topic, partition: p }),
    );
    n++;
    position.set(p, rec.offset + 1);
  }
  if (r.records.length === 0 && r.nextOffset < r.logStartOffset) position.set(p, r.logStartOffset);
  return n;
}

/**
 * Group mode: join, read the assigned partitions from the committed offsets
 * (where nothing is committed: the beginning with --from-beginning/--offset
 * beginning, else the end; --offset N or -N overrides the committed offsets of
 * the first assignment), commit after every fetch round, rejoin when the group
 * rebalances, leave on exit.
 */
async function consumeInGroup(
  c: KafkaClient,
  topic: string,
  io: CliIO,
  opts: { spec: StartOffset; max: number; format: string; json: boolean; exitAtEnd: boolean; group: string },
): Promise<number> {
  const member = new GroupConsumer(c, { groupId: opts.group, topics: [topic] });
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let printed = 0;
  let firstAssignment = true;
  const position = new Map<number, number>();
  let partitions: number[] = [];
  try {
    while (!stopping && printed < opts.max) {
      if (member.rejoinNeeded) {
        await member.join();
        partitions = member.partitionsOf(topic);
        const committed = await member.committed(topic, partitions);
        position.clear();
        // beginning / end act as the reset policy (where nothing is committed), as
        // auto.offset.reset does; an absolute or from-end offset overrides the
        // committed one on the first assignment only.
        const override = firstAssignment && (opts.spec.kind === 'absolute' || opts.spec.kind === 'fromEnd');
        const reset: StartOffset = opts.spec.kind === 'beginning' ? opts.spec : { kind: 'end' };
        for (const p of partitions) {
          const o = committed.get(p);
          position.set(
            p,
            override
              ? await resolveStart(c, topic, p, opts.spec, committed)
              : o !== undefined && o >= 0
                ? o
                : await resolveStart(c, topic, p, reset, committed),
          );
        }
        firstAssignment = false;
        continue;
      }
      if (partitions.length === 0) {
        if (opts.exitAtEnd) break;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const wait = partitions.length > 1 ? 100 : 500;
      const results: FetchResult[] = await Promise.all(
        partitions.map((p) => c.fetch(topic, p, position.get(p)!, { maxWaitMs: wait })),
      );
      if (member.rejoinNeeded) continue; // the partitions may be someone else's now: print nothing of this round
      const commits: { topic: string; partition: number; offset: number }[] = [];
      let atEnd = 0;
      for (let i = 0; i < partitions.length; i++) {
        const p = partitions[i];
        const r = results[i];
        printed += printFetched(io, opts, topic, p, r, position, opts.max - printed);
        if (position.get(p)! >= r.highWatermark) atEnd++;
        if (r.records.length > 0) commits.push({ topic, partition: p, offset: position.get(p)! });
      }
      await member.commit(commits);
      if (opts.exitAtEnd && atEnd === partitions.length) break;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await member.close();
  }
  return printed;
}
