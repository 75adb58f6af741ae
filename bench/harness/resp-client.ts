/**
 * A minimal pipelined Redis (RESP2) client for the benchmark: commands are
 * encoded into batched writes; replies are matched to callers in order.
 * Replies are kept small by the callers (COUNT), so a partial reply is simply
 * re-parsed when more bytes arrive.
 */
import net from 'node:net';

export type Reply = string | number | Buffer | null | Error | Reply[];

const INCOMPLETE = Symbol('incomplete');

function parse(buf: Buffer, pos: number): [Reply, number] | typeof INCOMPLETE {
  const eol = buf.indexOf('\r\n', pos, 'latin1');
  if (eol < 0) return INCOMPLETE;
  const t = buf[pos];
  const line = buf.toString('latin1', pos + 1, eol);
  const next = eol + 2;
  switch (t) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [new Error(line), next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: {
      // $
      const len = Number(line);
      if (len < 0) return [null, next];
      if (next + len + 2 > buf.length) return INCOMPLETE;
      return [buf.subarray(next, next + len), next + len + 2];
    }
    case 0x2a: {
      // *
      const len = Number(line);
      if (len < 0) return [null, next];
      const arr: Reply[] = new Array(len);
      let p = next;
      for (let i = 0; i < len; i++) {
        const r = parse(buf, p);
        if (r === INCOMPLETE) return INCOMPLETE;
        arr[i] = r[0];
        p = r[1];
      }
      return [arr, p];
    }
    default:
      throw new Error(`RESP: unexpected byte ${t} at ${pos}`);
  }
}

export class RespConn {
  private sock!: net.Socket;
  private rest: Buffer | undefined;
  // FIFO of reply callbacks; head index instead of shift() (O(n) on big arrays)
  private waiting: Array<((r: Reply) => void) | undefined> = [];
  private head = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  private scheduled = false;
  error: Error | undefined;

  static async connect(port: number, host = '127.0.0.1'): Promise<RespConn> {
    const c = new RespConn();
    await new Promise<void>((resolve, reject) => {
      c.sock = net.connect({ port, host }, () => resolve());
      c.sock.once('error', reject);
    });
    c.sock.setNoDelay(true);
    c.sock.on('data', (d) => c.onData(d));
    c.sock.on('error', (e) => (c.error = e));
    return c;
  }

  /** Queues a command; the promise resolves with its reply. */
  send(args: Array<string | Buffer>): Promise<Reply> {
    return new Promise((resolve) => this.sendCb(args, resolve));
  }

  /** Callback form, no promise allocation (for hot loops). */
  sendCb(args: Array<string | Buffer>, cb: (r: Reply) => void) {
    let head = `*${args.length}\r\n`;
    for (const a of args) {
      if (typeof a === 'string') head += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
      else {
        this.push(Buffer.from(head + `$${a.length}\r\n`, 'latin1'));
        this.push(a);
        head = '\r\n';
      }
    }
    this.push(Buffer.from(head, 'latin1'));
    this.waiting.push(cb);
  }

  private push(b: Buffer) {
    this.out.push(b);
    this.outBytes += b.length;
    if (this.outBytes >= 256 * 1024) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush() {
    this.scheduled = false;
    if (!this.out.length) return;
    this.sock.write(this.out.length === 1 ? this.out[0] : Buffer.concat(this.out, this.outBytes));
    this.out = [];
    this.outBytes = 0;
  }

  drained(): Promise<void> {
    if (!this.sock.writableNeedDrain) return Promise.resolve();
    return new Promise((r) => this.sock.once('drain', () => r()));
  }

  pending(): number {
    return this.waiting.length - this.head;
  }

  close() {
    this.sock.destroy();
  }

  private onData(chunk: Buffer) {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    let pos = 0;
    while (pos < buf.length) {
      const r = parse(buf, pos);
      if (r === INCOMPLETE) break;
      pos = r[1];
      const cb = this.waiting[this.head];
      this.waiting[this.head++] = undefined;
      if (this.head > 4096 && this.head * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
      cb?.(r[0]);
    }
    if (pos < buf.length) this.rest = buf.subarray(pos);
  }
}
