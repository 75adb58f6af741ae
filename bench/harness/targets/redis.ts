/**
 * Redis Streams peer: redis-server with AOF on loopback; acks=all maps to
 * appendfsync always, acks=1 to appendfsync everysec. One stream per
 * partition. Produce is driven by redis-benchmark (C, pipelined XADD),
 * consume and latency by the harness's RESP client (XRANGE / XREAD BLOCK).
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, nowSec, run, startServer, waitForPort, type Server } from '../proc.ts';
import { RespConn, type Reply } from '../resp-client.ts';
import { LatencyRecorder, drain, pace, readStamp, writeStamp } from '../latency.ts';
import { makePayload } from '../payload.ts';
import type { PayloadFiles, Target, Workload } from '../types.ts';

export class RedisTarget implements Target {
  readonly name = 'redis';
  private srv?: Server;
  private dir?: string;
  private port = 0;
  private latencyRuns = 0;
  constructor(private tmp: string) {}

  mode(w: Workload): string {
    return `AOF appendfsync ${w.acks === 'all' ? 'always' : 'everysec'}`;
  }

  pid() {
    return this.srv!.pid;
  }

  async start(w: Workload) {
    this.dir = fs.mkdtempSync(path.join(this.tmp, 'redis-'));
    this.port = await freePort();
    this.srv = startServer('redis-server', [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      w.acks === 'all' ? 'always' : 'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
    ]);
    await waitForPort(this.port, 10000, '127.0.0.1', () => !this.srv!.exited());
  }

  async produce(w: Workload, files: PayloadFiles) {
    const key = w.partitions === 1 ? 's:0' : 's:__rand_int__';
    const args = ['-h', '127.0.0.1', '-p', String(this.port), '-n', String(w.messages), '-c', '8', '-P', '32', '-q'];
    if (w.partitions > 1) args.push('-r', String(w.partitions));
    args.push('XADD', key, '*', 'd', files.payload.toString('latin1'));
    const r = await run('redis-benchmark', args, { stdoutTo: '/dev/null', timeoutMs: 600000 });
    if (r.code !== 0) throw new Error(`redis-benchmark exited ${r.code}: ${r.stderr.slice(-300)}`);
    const c = await RespConn.connect(this.port);
    const keys = (await c.send(['KEYS', 's:*'])) as Buffer[];
    let n = 0;
    for (const k of keys) n += (await c.send(['XLEN', k])) as number;
    c.close();
    // redis-benchmark rounds up to whole pipelines, so a few more may be stored
    if (n < w.messages) throw new Error(`redis: ${n} entries stored, ${w.messages} sent`);
    return { msgs: n, bytes: n * w.size };
  }

  async consume(w: Workload, _expected: number) {
    const c = await RespConn.connect(this.port);
    const keys = ((await c.send(['KEYS', 's:*'])) as Buffer[]).map((k) => k.toString());
    const count = String(Math.max(16, Math.floor((60 * 1024) / w.size)));
    let msgs = 0;
    let bytes = 0;
    await Promise.all(
      keys.map(async (key) => {
        let from = '-';
        for (;;) {
          const r = (await c.send(['XRANGE', key, from, '+', 'COUNT', count])) as Reply[];
          if (r instanceof Error) throw r;
          if (!r.length) break;
          for (const e of r as Reply[][]) {
            const fields = e[1] as Buffer[];
            msgs++;
            bytes += fields[1].length;
          }
          from = '(' + ((r[r.length - 1] as Reply[])[0] as Buffer).toString();
        }
      }),
    );
    c.close();
    return { msgs, bytes };
  }

  /**
   * Tailing: a reader (XREAD BLOCK on every stream key, from its last entry)
   * while redis-benchmark adds w.messages more with produce()'s settings;
   * seconds from the start to the end of redis-benchmark / to the last entry
   * read.
   */
  async tail(w: Workload, files: PayloadFiles) {
    const c = await RespConn.connect(this.port);
    const keys = ((await c.send(['KEYS', 's:*'])) as Buffer[]).map((k) => k.toString());
    const ids: string[] = [];
    for (const k of keys) {
      const last = (await c.send(['XREVRANGE', k, '+', '-', 'COUNT', '1'])) as Reply[][];
      ids.push(last.length ? (last[0][0] as Buffer).toString() : '0-0');
    }
    const count = String(Math.max(16, Math.floor((60 * 1024) / w.size)));
    let msgs = 0;
    let bytes = 0;
    let tLast = 0;
    let stop = false;
    const t0 = nowSec();
    const reader = xreadLoop(
      c,
      keys,
      ids,
      count,
      () => stop || msgs >= w.messages,
      (value) => {
        msgs++;
        bytes += value.length;
      },
      () => (tLast = nowSec()),
    );
    const p = await this.produce(w, files);
    const produceSeconds = nowSec() - t0;
    await Promise.race([reader, new Promise((r) => setTimeout(r, 60_000))]);
    stop = true;
    await reader;
    c.close();
    return {
      produce: { msgs: w.messages, bytes: w.messages * w.size, seconds: produceSeconds },
      consume: { msgs, bytes, seconds: (tLast || nowSec()) - t0 },
      driver: `redis-benchmark XADD (as in produce; ${p.msgs} entries stored in all) + one XREAD BLOCK reader (the harness's RESP client)`,
    };
  }

  async latency(w: Workload, rate: number, seconds: number) {
    const rec = new LatencyRecorder(Math.ceil(rate * seconds * 1.1));
    // fresh keys per run, so a backlog left by an earlier run is not read
    const run = ++this.latencyRuns;
    const keys = Array.from({ length: w.partitions }, (_, i) => `l${run}:${i}`);
    const ids = keys.map(() => '0-0');
    const sub = await RespConn.connect(this.port);
    const pub = await RespConn.connect(this.port);
    let stop = false;
    const count = String(Math.max(16, Math.floor((60 * 1024) / w.size)));
    const reader = xreadLoop(
      sub,
      keys,
      ids,
      count,
      () => stop,
      (value) => rec.onStamp(readStamp(value, 0)),
    );
    const tpl = makePayload(w.size);
    let n = 0;
    let errors = 0;
    const onReply = (r: Reply) => {
      if (r instanceof Error) errors++;
    };
    const sent = await pace(
      rate,
      1,
      seconds,
      rec,
      (st) => {
        const p = Buffer.allocUnsafe(w.size);
        tpl.copy(p);
        writeStamp(p, 0, st);
        pub.sendCb(['XADD', keys[n++ % keys.length], '*', 'd', p], onReply);
      },
      () => {
        pub.flush();
        return pub.drained();
      },
    );
    await drain(() => rec.received, n);
    stop = true;
    await reader;
    pub.close();
    sub.close();
    if (errors) throw new Error(`${errors} XADD errors`);
    return { sent, latenciesUs: rec.values(), received: rec.count };
  }

  async stop() {
    await this.srv?.stop();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * XREAD BLOCK on `keys` from `ids` (advanced as entries come) until `done()`,
 * calling `onValue` with each entry's value field and `onReply` after each
 * reply that brought entries.
 */
async function xreadLoop(
  c: RespConn,
  keys: string[],
  ids: string[],
  count: string,
  done: () => boolean,
  onValue: (value: Buffer) => void,
  onReply?: () => void,
): Promise<void> {
  while (!done()) {
    const r = (await c.send(['XREAD', 'BLOCK', '200', 'COUNT', count, 'STREAMS', ...keys, ...ids])) as Reply[] | null;
    if (r instanceof Error) throw r;
    if (!r) continue;
    for (const st of r as Reply[][]) {
      const ki = keys.indexOf((st[0] as Buffer).toString());
      const entries = st[1] as Reply[][];
      for (const e of entries) onValue((e[1] as Buffer[])[1]);
      ids[ki] = (entries[entries.length - 1][0] as Buffer).toString();
    }
    onReply?.();
  }
}
