/**
 * NATS JetStream peer: nats-server -js with file storage on loopback. One
 * stream per partition (subject s.<i>), published round-robin with PubAck
 * awaited for every message (window of outstanding publishes), read back
 * with push consumers (ack none, flow control).
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, nowSec, startServer, waitForPort, type Server } from '../proc.ts';
import { handleControl, NatsConn } from '../nats-client.ts';
import { LatencyRecorder, drain, pace, readStamp, writeStamp } from '../latency.ts';
import { makePayload } from '../payload.ts';
import type { PayloadFiles, Target, Workload } from '../types.ts';

export class NatsTarget implements Target {
  readonly name = 'nats';
  private srv?: Server;
  private dir?: string;
  private port = 0;
  constructor(private tmp: string) {}

  mode(): string {
    return 'JetStream file storage, PubAck per message (server default sync interval)';
  }

  pid() {
    return this.srv!.pid;
  }

  async start(w: Workload) {
    this.dir = fs.mkdtempSync(path.join(this.tmp, 'nats-'));
    this.port = await freePort();
    this.srv = startServer('nats-server', ['-js', '-sd', this.dir, '-a', '127.0.0.1', '-p', String(this.port)]);
    await waitForPort(this.port, 10000, '127.0.0.1', () => !this.srv!.exited());
    const c = await NatsConn.connect(this.port);
    try {
      for (let i = 0; i < w.partitions; i++) {
        await c.request(`$JS.API.STREAM.CREATE.S${i}`, {
          name: `S${i}`,
          subjects: [`s.${i}`],
          storage: 'file',
          retention: 'limits',
          discard: 'old',
          num_replicas: 1,
          max_msg_size: -1,
        });
      }
    } finally {
      c.close();
    }
  }

  async produce(w: Workload, files: PayloadFiles) {
    const c = await NatsConn.connect(this.port);
    const inbox = `_A.${Math.random().toString(36).slice(2)}`;
    let acked = 0;
    let errors = 0;
    let wake: (() => void) | undefined;
    c.sub(`${inbox}.*`, (_s, _r, _h, p) => {
      acked++;
      if (p.includes('"error"')) errors++;
      if (wake) {
        const f = wake;
        wake = undefined;
        f();
      }
    });
    await c.ping();
    const window = Math.max(256, Math.floor((8 << 20) / w.size));
    const N = w.messages;
    let sent = 0;
    while (acked < N) {
      while (sent < N && sent - acked < window) {
        c.pub(`s.${sent % w.partitions}`, `${inbox}.${sent}`, files.payload);
        sent++;
      }
      c.flush();
      await c.drained();
      if (acked < N) await new Promise<void>((r) => (wake = r));
      if (c.error) throw c.error;
    }
    c.close();
    if (errors) throw new Error(`${errors} JetStream publishes failed`);
    return { msgs: N, bytes: N * w.size };
  }

  /**
   * One push consumer per stream (ack none, flow control), each on a
   * connection of its own, calling `onMessage` per message until `count`
   * came. With all of them on one connection, 16 streams pushing at once
   * went over the server's 64 MB of pending bytes per client ("Slow Consumer
   * Detected"), and the server dropped messages, or a consumer-create reply,
   * so the run never finished. The create requests go over a separate
   * connection too, so a reply never waits behind a backlog.
   */
  private async pushConsumers(partitions: number, policy: 'all' | 'new', count: number) {
    const ctl = await NatsConn.connect(this.port);
    const conns = await Promise.all(Array.from({ length: partitions }, () => NatsConn.connect(this.port)));
    const got = { msgs: 0, bytes: 0, tLast: 0 };
    let done: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const delivers = conns.map((c, i) => {
      const deliver = `_D.${i}.${Math.random().toString(36).slice(2)}`;
      c.sub(deliver, (_s, reply, headers, payload) => {
        if (handleControl(c, reply, headers, payload.length)) return;
        got.msgs++;
        got.bytes += payload.length;
        if (got.msgs >= count) {
          got.tLast = nowSec();
          done();
        }
      });
      return deliver;
    });
    await Promise.all(conns.map((c) => c.ping())); // every subscription is registered before any consumer pushes
    for (const [i, deliver] of delivers.entries()) {
      await ctl.request(`$JS.API.CONSUMER.CREATE.S${i}`, {
        stream_name: `S${i}`,
        config: {
          deliver_subject: deliver,
          deliver_policy: policy,
          ack_policy: 'none',
          flow_control: true,
          idle_heartbeat: 2_000_000_000,
        },
      });
    }
    const close = () => {
      ctl.close();
      for (const c of conns) c.close();
    };
    return { got, finished, close };
  }

  /** Catch-up: push consumers delivering every stream from its start. */
  async consume(w: Workload, expected: number) {
    const { got, finished, close } = await this.pushConsumers(w.partitions, 'all', expected);
    await finished;
    close();
    return { msgs: got.msgs, bytes: got.bytes };
  }

  /**
   * Tailing: push consumers delivering new messages, then the max publisher
   * of produce() adds w.messages more; seconds from the publisher's start to
   * its last PubAck / to the last message delivered.
   */
  async tail(w: Workload, files: PayloadFiles) {
    const { got, finished, close } = await this.pushConsumers(w.partitions, 'new', w.messages);
    const t0 = nowSec();
    const p = await this.produce(w, files);
    const produceSeconds = nowSec() - t0;
    await Promise.race([finished, new Promise((r) => setTimeout(r, 60_000))]);
    close();
    return {
      produce: { msgs: p.msgs, bytes: p.bytes, seconds: produceSeconds },
      consume: { msgs: got.msgs, bytes: got.bytes, seconds: (got.tLast || nowSec()) - t0 },
      driver: `the harness's NATS client: the max publisher + ${w.partitions} push consumer${w.partitions > 1 ? 's' : ''} (deliver new), one connection each`,
    };
  }

  async latency(w: Workload, rate: number, seconds: number) {
    const rec = new LatencyRecorder(Math.ceil(rate * seconds * 1.1));
    const sub = await NatsConn.connect(this.port);
    for (let i = 0; i < w.partitions; i++) {
      const deliver = `_L.${i}.${Math.random().toString(36).slice(2)}`;
      sub.sub(deliver, (_s, reply, headers, payload) => {
        if (handleControl(sub, reply, headers, payload.length)) return;
        rec.onStamp(readStamp(payload, 0));
      });
      await sub.request(`$JS.API.CONSUMER.CREATE.S${i}`, {
        stream_name: `S${i}`,
        config: {
          deliver_subject: deliver,
          deliver_policy: 'new',
          ack_policy: 'none',
          flow_control: true,
          idle_heartbeat: 2_000_000_000,
        },
      });
    }
    const pub = await NatsConn.connect(this.port);
    const inbox = `_A.${Math.random().toString(36).slice(2)}`;
    pub.sub(`${inbox}.*`, () => {});
    await pub.ping();
    let n = 0;
    const tpl = makePayload(w.size);
    const sentTotal = { v: 0 };
    const sent = await pace(
      rate,
      1,
      seconds,
      rec,
      (st) => {
        const p = Buffer.allocUnsafe(w.size);
        tpl.copy(p);
        writeStamp(p, 0, st);
        pub.pub(`s.${n % w.partitions}`, `${inbox}.${n}`, p);
        n++;
        sentTotal.v++;
      },
      () => {
        pub.flush();
        return pub.drained();
      },
    );
    await drain(() => rec.received, sentTotal.v);
    pub.close();
    sub.close();
    return { sent, latenciesUs: rec.values(), received: rec.count };
  }

  async stop() {
    await this.srv?.stop();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
