/**
 * Exactly-once consume-transform-produce under kill -9. A confluent-kafka-python
 * stage (test/interop/py/ck_eos_loop.py) reads an input topic (3 partitions)
 * read_committed in a group and writes each record, transformed, to an output
 * topic (3 partitions) in transactions that also carry its input offsets
 * (send_offsets_to_transaction). The test kills the stage with SIGKILL at
 * points drawn from a seeded generator (after a transaction began, after its
 * records reached the broker, after its offsets were sent, after it
 * committed, and held mid-transaction with its records flushed) and restarts
 * it with the same transactional.id until the input is consumed. The broker
 * runs as a process; the second test also kills the broker (-9) while a
 * transaction is open. Checker: the output read_committed holds every input
 * record transformed exactly once; read_uncommitted holds the same plus the
 * aborted transactions' records (duplicates), which are counted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { KafkaClient } from '../../src/client/index.ts';
import { startChildBroker, uniqueTopic, type ChildBroker } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { PY_DIR, PYTHON } from '../helpers/proc.ts';

const PARTITIONS = 3;
const PER_PARTITION = 200;

let broker: ChildBroker;

before(async () => {
  broker = await startChildBroker({
    overrides: {
      'transaction.state.log.num.partitions': '3',
      'offsets.topic.num.partitions': '3',
      'group.initial.rebalance.delay.ms': '0',
      'transaction.abort.timed.out.transaction.cleanup.interval.ms': '500',
    },
  });
});

after(async () => {
  await broker?.close();
});

/** mulberry32: a small seeded generator, so that a failing kill schedule can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Plan = { mode: 'hold'; at: number } | { mode: 'race'; phase: string; nth: number } | { mode: 'finish' };

interface Stage {
  proc: ChildProcess;
  lines: string[];
  /** Resolves once a line starting with `prefix` was printed (rejects if the process exits first). */
  waitLine(prefix: string, nth?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

function startStage(args: string[]): Stage {
  const proc = spawn(PYTHON, [path.join(PY_DIR, 'ck_eos_loop.py'), ...args], {
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let err = '';
  let partial = '';
  const waiters: (() => void)[] = [];
  proc.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  proc.stdin?.on('error', () => {});
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('close', (code, signal) => {
      done = true;
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal });
    }),
  );
  const waitLine = (prefix: string, nth = 1) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (lines.filter((l) => l.startsWith(prefix)).length >= nth) return resolve();
        if (done) return reject(new Error(`stage exited before '${prefix}' #${nth}: ${lines.join('|')}\n${err}`));
        waiters.push(check);
      };
      check();
    });
  return { proc, lines, waitLine, exited, stderr: () => err };
}

async function killStage(s: Stage): Promise<void> {
  s.proc.kill('SIGKILL');
  await s.exited;
}

async function eosRun(seed: number, killBrokerAtRun: number | undefined): Promise<void> {
  const rnd = seeded(seed);
  const tag = uniqueTopic('eos');
  const input = `${tag}-in`;
  const output = `${tag}-out`;
  const group = `${tag}-g`;
  const txnId = `${tag}-tx`;
  const client = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'eos-test', retries: 20 });
  await client.createTopics([
    { name: input, numPartitions: PARTITIONS, replicationFactor: 1 },
    { name: output, numPartitions: PARTITIONS, replicationFactor: 1 },
  ]);
  await client.close();
  const expected: string[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const lines: string[] = [];
    for (let i = 0; i < PER_PARTITION; i++) {
      lines.push(`k${p}-${i}:in-${p}-${i}`);
      expected.push(`${p}:out:in-${p}-${i}`);
    }
    await kcatProduce(broker.bootstrapServers, input, lines, ['-p', String(p)]);
  }

  // the kill schedule: six kills, two of them held mid-transaction (records on the broker,
  // offsets not sent), the others racing the stage at a drawn step of a drawn transaction
  const phases = ['begin', 'produced', 'offsets', 'committed'];
  const plans: Plan[] = [];
  for (let i = 0; i < 6; i++) {
    if (i === 0 || i === 3) plans.push({ mode: 'hold', at: 1 + Math.floor(rnd() * 3) });
    else plans.push({ mode: 'race', phase: phases[Math.floor(rnd() * phases.length)], nth: 1 + Math.floor(rnd() * 4) });
  }
  plans.push({ mode: 'finish' });

  let kills = 0;
  let finished = false;
  const history: string[] = [];
  for (let run = 0; !finished; run++) {
    assert.ok(run < 20, `the stage did not finish: ${history.join('; ')}`);
    const plan = plans[Math.min(run, plans.length - 1)];
    const args = [broker.bootstrapServers, input, output, group, txnId, String(seed + run)];
    if (plan.mode === 'hold') args.push(String(plan.at));
    const stage = startStage(args);
    const doneOrExit = stage.waitLine('done').then(
      () => 'done',
      () => 'exit',
    );
    if (plan.mode === 'finish') {
      await doneOrExit;
    } else {
      const point = plan.mode === 'hold' ? stage.waitLine('holding', 1) : stage.waitLine(`${plan.phase} `, plan.nth);
      const first = await Promise.race([
        point.then(
          () => 'point',
          () => 'exit',
        ),
        doneOrExit,
      ]);
      if (first === 'point') {
        if (run === killBrokerAtRun && plan.mode === 'hold') {
          await broker.kill('SIGKILL');
          await killStage(stage);
          await broker.restart();
          history.push(`run ${run}: broker and stage killed while holding`);
        } else {
          await killStage(stage);
          history.push(`run ${run}: killed at ${plan.mode === 'hold' ? 'holding' : `${plan.phase} #${plan.nth}`}`);
        }
        kills++;
        continue;
      }
    }
    const r = await stage.exited;
    assert.ok(
      r.code === 0 && stage.lines.includes('done'),
      `run ${run} ended without finishing (code ${r.code}): ${stage.lines.join('|')}\n${stage.stderr()}`,
    );
    history.push(`run ${run}: finished`);
    finished = true;
  }
  assert.ok(kills >= 5, `only ${kills} kills: ${history.join('; ')}`);

  const committed = await kcatConsume(broker.bootstrapServers, output, {
    extra: ['-X', 'isolation.level=read_committed'],
  });
  const got = committed.map((r) => `${r.partition}:${r.payload}`);
  const seen = new Map<string, number>();
  for (const v of got) seen.set(v, (seen.get(v) ?? 0) + 1);
  const missing = expected.filter((v) => !seen.has(v));
  const doubled = [...seen].filter(([, n]) => n > 1).map(([v]) => v);
  assert.deepEqual(missing, [], `records lost (${history.join('; ')})`);
  assert.deepEqual(doubled, [], `records doubled (${history.join('; ')})`);
  assert.equal(got.length, expected.length);

  const all = await kcatConsume(broker.bootstrapServers, output, {
    extra: ['-X', 'isolation.level=read_uncommitted'],
  });
  const aborted = all.length - got.length;
  // the held transactions had their records flushed to the broker: their aborted copies are there
  assert.ok(aborted > 0, 'the transactions killed mid-way left aborted records');
  for (const r of all) assert.ok(seen.has(`${r.partition}:${r.payload}`), `unexpected record ${r.payload}`);
  console.log(
    `seed ${seed}: ${kills} kills, ${got.length} committed, ${aborted} aborted duplicates; ${history.join('; ')}`,
  );
}

test('consume-transform-produce killed (-9) six times: read_committed output holds every input record once', async () => {
  await eosRun(20_2612, undefined);
});

test('the same with the broker killed (-9) too while a transaction is open', async () => {
  await eosRun(4242, 3);
});
