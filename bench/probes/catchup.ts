/**
 * Catch-up probe: one broker, one max produce of N messages, then the
 * catch-up read repeated with variants (processes, librdkafka properties),
 * each with the broker's CPU and the bytes it read and wrote.
 *
 *   node --import tsx bench/probes/catchup.ts [partitions=1] [size=1024] [messages=600000]
 *
 * Env: PROBE_VARIANTS (";"-separated, each a ","-separated list of k=v: `procs=N` is the number of
 * catchup processes, other keys go to the generator, e.g. "procs=2;procs=3,max.partition.fetch.bytes=2097152";
 * default "procs=2", the harness's), PROBE_REPS (rounds over the variants, default 2), plus
 * SAMSA_BENCH_BROKER_FLAGS / SAMSA_BENCH_CPU_PROF / PROBE_BROKER_OVERRIDES (broker.ts). MB/s is from the probe's wall time around the
 * processes (start and exit included), as in the harness; "inner" is each process's own time from
 * assign to last message.
 */
import { spawnSync } from 'node:child_process';
import { run } from '../harness/proc.ts';
import { loadgenBinary } from '../harness/targets/samsa.ts';
import { procIo, startProbeBroker } from './broker.ts';

const [partitions = '1', size = '1024', messages = '600000'] = process.argv.slice(2);
const bin = loadgenBinary();
if (!bin) throw new Error('bench/loadgen does not build here: run scripts/bench-setup.sh');
const broker = await startProbeBroker([{ topic: 'bench', numPartitions: Number(partitions) }]);
const base = { host: '127.0.0.1', port: broker.port, topic: 'bench', partitions: Number(partitions) };

try {
  const p = spawnSync(
    bin,
    [
      'produce-max',
      JSON.stringify({
        ...base,
        size: Number(size),
        acks: 1,
        messages: Number(messages),
        lingerMs: 5,
        batchSize: 1_000_000,
      }),
    ],
    {
      input: '1\n',
      encoding: 'utf8',
    },
  );
  const produced = JSON.parse(p.stdout.slice(p.stdout.indexOf('ready\n') + 6).trim() || '{}');
  if (produced.messages !== Number(messages))
    throw new Error(`produce-max: ${p.stdout.slice(-300)} ${p.stderr.slice(-300)}`);
  const variants = (process.env.PROBE_VARIANTS ?? 'procs=2').split(';').filter(Boolean);
  for (let rep = 0; rep < Number(process.env.PROBE_REPS ?? 2); rep++) {
    for (const v of variants) {
      const props: Record<string, string> = Object.fromEntries(
        v
          .split(',')
          .filter(Boolean)
          .map((kv) => kv.split('=') as [string, string]),
      );
      const n = Number(props.procs ?? 1);
      delete props.procs;
      const pid = broker.srv.pid;
      const io0 = procIo(pid);
      const c0 = broker.cpu();
      const t0 = performance.now();
      const runs = await Promise.all(
        Array.from({ length: n }, (_, k) =>
          run(
            bin,
            [
              'catchup',
              JSON.stringify({
                ...base,
                expected: 0,
                fetchMaxWaitMs: 10,
                timeoutSec: 60,
                slice: k,
                slices: n,
                ...props,
              }),
            ],
            { timeoutMs: 120_000 },
          ),
        ),
      );
      for (const r of runs) if (r.code !== 0) throw new Error(`catchup exited ${r.code}: ${r.stderr.slice(-300)}`);
      const outs = runs.map((r) => r.stdout);
      const wall = (performance.now() - t0) / 1000;
      const cpu = broker.cpu() - c0;
      const io1 = procIo(pid);
      const cs = outs.map(
        (o) => JSON.parse(o.trim()) as { messages: number; bytes: number; seconds: number; cpu: number },
      );
      const bytes = cs.reduce((a, c) => a + c.bytes, 0);
      const msgs = cs.reduce((a, c) => a + c.messages, 0);
      console.log(
        `${v}: ${(bytes / 1e6 / wall).toFixed(0)} MB/s (wall ${wall.toFixed(3)} s, inner ${cs.map((c) => c.seconds.toFixed(3)).join(' ')}), ${msgs} msgs; ` +
          `client CPU ${cs.map((c) => c.cpu.toFixed(2)).join(' + ')} s, broker CPU ${cpu.toFixed(2)} s; ` +
          `broker read ${((io1.rchar - io0.rchar) / 1e6).toFixed(0)} MB in ${io1.syscr - io0.syscr} calls, wrote ${((io1.wchar - io0.wchar) / 1e6).toFixed(0)} MB in ${io1.syscw - io0.syscw}`,
      );
    }
  }
} finally {
  await broker.stop();
}
