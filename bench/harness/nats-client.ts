/**
 * A minimal NATS client (text protocol: CONNECT/PUB/SUB/MSG/HMSG/PING) with
 * just enough JetStream for the benchmark: stream and consumer creation by
 * request, publish with PubAck on a reply subject, push consumers with flow
 * control. Written for this harness; writes are batched into large socket
 * writes and the parser copies only a partial trailing message.
 */
import net from 'node:net';

type MsgHandler = (subject: string, reply: string | undefined, headers: Buffer | undefined, payload: Buffer) => void;

const CRLF = Buffer.from('\r\n');

export class NatsConn {
  private sock!: net.Socket;
  private rest: Buffer | undefined;
  private out: Buffer[] = [];
  private outBytes = 0;
  private sid = 0;
  private subs = new Map<number, MsgHandler>();
  private pongs: Array<() => void> = [];
  private inbox = `_INBOX.${Math.random().toString(36).slice(2)}`;
  private reqId = 0;
  private reqs = new Map<string, (b: Buffer) => void>();
  private flushScheduled = false;
  error: Error | undefined;

  static async connect(port: number, host = '127.0.0.1'): Promise<NatsConn> {
    const c = new NatsConn();
    await new Promise<void>((resolve, reject) => {
      c.sock = net.connect({ port, host }, () => resolve());
      c.sock.once('error', reject);
    });
    c.sock.setNoDelay(true);
    c.sock.on('data', (d) => c.onData(d));
    c.sock.on('error', (e) => (c.error = e));
    c.write(
      Buffer.from(
        `CONNECT ${JSON.stringify({ verbose: false, pedantic: false, headers: true, no_responders: true, protocol: 1, name: 'samsa-bench' })}\r\n`,
      ),
    );
    c.sub(`${c.inbox}.r.*`, (subject, _r, _h, payload) => {
      const cb = c.reqs.get(subject);
      if (cb) {
        c.reqs.delete(subject);
        cb(payload);
      }
    });
    await c.ping();
    return c;
  }

  private write(b: Buffer) {
    this.out.push(b);
    this.outBytes += b.length;
    if (this.outBytes >= 256 * 1024) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush() {
    this.flushScheduled = false;
    if (this.out.length === 0) return;
    const b = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    this.sock.write(b);
  }

  /** Resolves once the socket's write buffer has drained (back-pressure). */
  drained(): Promise<void> {
    if (!this.sock.writableNeedDrain) return Promise.resolve();
    return new Promise((r) => this.sock.once('drain', () => r()));
  }

  sub(subject: string, handler: MsgHandler): number {
    const sid = ++this.sid;
    this.subs.set(sid, handler);
    this.write(Buffer.from(`SUB ${subject} ${sid}\r\n`));
    return sid;
  }

  pub(subject: string, reply: string | undefined, payload: Buffer) {
    const head = Buffer.from(
      reply ? `PUB ${subject} ${reply} ${payload.length}\r\n` : `PUB ${subject} ${payload.length}\r\n`,
    );
    this.write(head);
    this.write(payload);
    this.write(CRLF);
  }

  ping(): Promise<void> {
    return new Promise((resolve) => {
      this.pongs.push(resolve);
      this.write(Buffer.from('PING\r\n'));
      this.flush();
    });
  }

  async request(subject: string, body: unknown, timeoutMs = 10000): Promise<any> {
    const reply = `${this.inbox}.r.${++this.reqId}`;
    const p = new Promise<Buffer>((resolve, reject) => {
      const t = setTimeout(() => {
        this.reqs.delete(reply);
        reject(new Error(`NATS request ${subject} timed out`));
      }, timeoutMs);
      this.reqs.set(reply, (b) => {
        clearTimeout(t);
        resolve(b);
      });
    });
    this.pub(subject, reply, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
    this.flush();
    const res = JSON.parse((await p).toString() || '{}');
    if (res.error) throw new Error(`${subject}: ${res.error.description ?? JSON.stringify(res.error)}`);
    return res;
  }

  close() {
    this.flush();
    this.sock.end();
    this.sock.destroy();
  }

  private onData(chunk: Buffer) {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    let pos = 0;
    const n = buf.length;
    while (pos < n) {
      const eol = buf.indexOf(CRLF, pos);
      if (eol < 0) break;
      const c0 = buf[pos];
      if (c0 === 0x4d /* M */ || c0 === 0x48 /* H */) {
        const line = buf.toString('latin1', pos, eol);
        const parts = line.split(' ');
        const isH = c0 === 0x48;
        let subject: string,
          sid: number,
          reply: string | undefined,
          hlen = 0,
          total: number;
        if (isH) {
          // HMSG subject sid [reply] hdrlen totlen
          subject = parts[1];
          sid = Number(parts[2]);
          if (parts.length === 6) reply = parts[3];
          hlen = Number(parts[parts.length - 2]);
          total = Number(parts[parts.length - 1]);
        } else {
          // MSG subject sid [reply] size
          subject = parts[1];
          sid = Number(parts[2]);
          if (parts.length === 5) reply = parts[3];
          total = Number(parts[parts.length - 1]);
        }
        const start = eol + 2;
        if (start + total + 2 > n) break; // incomplete: keep from pos
        const headers = isH ? buf.subarray(start, start + hlen) : undefined;
        const payload = buf.subarray(start + hlen, start + total);
        pos = start + total + 2;
        const h = this.subs.get(sid);
        if (h) h(subject, reply, headers, payload);
        continue;
      }
      const line = buf.toString('latin1', pos, eol);
      pos = eol + 2;
      if (line === 'PING') {
        this.write(Buffer.from('PONG\r\n'));
        this.flush();
      } else if (line === 'PONG') this.pongs.shift()?.();
      else if (line.startsWith('-ERR')) this.error = new Error(`NATS: ${line}`);
      // INFO, +OK: nothing to do
    }
    if (pos < n) this.rest = Buffer.from(buf.subarray(pos));
  }
}

/**
 * Handles JetStream push-consumer control messages (heartbeats and flow
 * control); returns true when `headers` marked a control message.
 */
export function handleControl(
  conn: NatsConn,
  reply: string | undefined,
  headers: Buffer | undefined,
  payloadLen: number,
): boolean {
  if (!headers || payloadLen > 0) return false;
  const h = headers.toString('latin1');
  if (!h.startsWith('NATS/1.0 100')) return false;
  if (reply) {
    conn.pub(reply, undefined, Buffer.alloc(0));
    conn.flush();
  }
  const stalled = /Nats-Consumer-Stalled:\s*(\S+)/i.exec(h);
  if (stalled) {
    conn.pub(stalled[1], undefined, Buffer.alloc(0));
    conn.flush();
  }
  return true;
}
