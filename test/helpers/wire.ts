/**
 * A deliberately small, independent Kafka wire encoder for tests that need to
 * send exact bytes (malformed frames, corrupt CRCs, raw idempotent batches).
 * Written from the protocol's published layout, not from src/protocol, so a
 * symmetric bug there cannot hide.
 */
import net from 'node:net';
import { crc32c } from '@node-rs/crc32';

export class W {
  private parts: Buffer[] = [];
  int8(v: number) {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    this.parts.push(b);
    return this;
  }
  int16(v: number) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  int32(v: number) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  uint32(v: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  int64(v: bigint | number) {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  /** int16 length + utf8, or -1 for null */
  string(s: string | null) {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    this.int16(b.length);
    this.parts.push(b);
    return this;
  }
  /** int32 length + bytes, or -1 for null */
  bytes(b: Buffer | null) {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    this.parts.push(b);
    return this;
  }
  raw(b: Buffer) {
    this.parts.push(b);
    return this;
  }
  uvarint(v: number) {
    const out: number[] = [];
    let x = v >>> 0;
    while (x > 0x7f) {
      out.push((x & 0x7f) | 0x80);
      x >>>= 7;
    }
    out.push(x);
    this.parts.push(Buffer.from(out));
    return this;
  }
  /** zigzag varint (records use signed varints) */
  varint(v: number) {
    return this.varlong(BigInt(v));
  }
  varlong(v: bigint) {
    let z = (v << 1n) ^ (v >> 63n);
    z &= 0xffffffffffffffffn;
    const out: number[] = [];
    while (z > 0x7fn) {
      out.push(Number(z & 0x7fn) | 0x80);
      z >>= 7n;
    }
    out.push(Number(z));
    this.parts.push(Buffer.from(out));
    return this;
  }
  /** compact string: uvarint(len+1) + utf8 */
  compactString(s: string | null) {
    if (s === null) return this.uvarint(0);
    const b = Buffer.from(s, 'utf8');
    this.uvarint(b.length + 1);
    this.parts.push(b);
    return this;
  }
  emptyTags() {
    return this.uvarint(0);
  }
  build() {
    return Buffer.concat(this.parts);
  }
}

export class R {
  off = 0;
  constructor(readonly buf: Buffer) {}
  int8() {
    const v = this.buf.readInt8(this.off);
    this.off += 1;
    return v;
  }
  int16() {
    const v = this.buf.readInt16BE(this.off);
    this.off += 2;
    return v;
  }
  int32() {
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }
  int64() {
    const v = this.buf.readBigInt64BE(this.off);
    this.off += 8;
    return v;
  }
  string() {
    const n = this.int16();
    if (n < 0) return null;
    const s = this.buf.toString('utf8', this.off, this.off + n);
    this.off += n;
    return s;
  }
  bytes() {
    const n = this.int32();
    if (n < 0) return null;
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
  remaining() {
    return this.buf.length - this.off;
  }
}

/** A request frame: int32 size, then header v1 (key, version, correlation id, client id) or v2 (+ tags), then body. */
export function requestFrame(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  body: Buffer,
  opts: { flexibleHeader?: boolean; clientId?: string | null } = {},
): Buffer {
  const h = new W()
    .int16(apiKey)
    .int16(apiVersion)
    .int32(correlationId)
    .string(opts.clientId === undefined ? 'samsa-wire-test' : opts.clientId);
  if (opts.flexibleHeader) h.emptyTags();
  const payload = Buffer.concat([h.build(), body]);
  return Buffer.concat([new W().int32(payload.length).build(), payload]);
}

export interface RecordSpec {
  key: Buffer | null;
  value: Buffer | null;
  headers?: [string, Buffer | null][];
  timestampDelta?: number;
}

/** A magic-2 record batch (uncompressed) with a correct CRC32C. */
export function recordBatch(
  records: RecordSpec[],
  opts: { baseTimestamp?: number; producerId?: bigint; producerEpoch?: number; baseSequence?: number } = {},
): Buffer {
  const ts = BigInt(opts.baseTimestamp ?? Date.now());
  const recs: Buffer[] = records.map((r, i) => {
    const body = new W()
      .int8(0)
      .varlong(BigInt(r.timestampDelta ?? 0))
      .varint(i);
    if (r.key === null) body.varint(-1);
    else body.varint(r.key.length).raw(r.key);
    if (r.value === null) body.varint(-1);
    else body.varint(r.value.length).raw(r.value);
    const hs = r.headers ?? [];
    body.varint(hs.length);
    for (const [k, v] of hs) {
      const kb = Buffer.from(k, 'utf8');
      body.varint(kb.length).raw(kb);
      if (v === null) body.varint(-1);
      else body.varint(v.length).raw(v);
    }
    const b = body.build();
    return Buffer.concat([new W().varint(b.length).build(), b]);
  });
  const maxDelta = Math.max(0, ...records.map((r) => r.timestampDelta ?? 0));
  // everything the CRC covers: attributes .. end
  const afterCrc = new W()
    .int16(0) // attributes: no compression, CreateTime, not transactional, not control
    .int32(records.length - 1) // lastOffsetDelta
    .int64(ts)
    .int64(ts + BigInt(maxDelta))
    .int64(opts.producerId ?? -1n)
    .int16(opts.producerEpoch ?? -1)
    .int32(opts.baseSequence ?? -1)
    .int32(records.length)
    .raw(Buffer.concat(recs))
    .build();
  const crc = crc32c(afterCrc);
  const afterLength = new W().int32(0 /* partitionLeaderEpoch */).int8(2).uint32(crc).raw(afterCrc).build();
  return new W().int64(0).int32(afterLength.length).raw(afterLength).build();
}

/** Byte offset of the CRC field inside a batch, and of the first byte the CRC covers. */
export const BATCH_CRC_OFFSET = 17;
export const BATCH_ATTRIBUTES_OFFSET = 21;

/** Produce v3 body: one topic, one partition, one batch. */
export function produceV3Body(topic: string, partition: number, batch: Buffer, acks = -1, timeoutMs = 10_000): Buffer {
  return new W()
    .string(null)
    .int16(acks)
    .int32(timeoutMs)
    .int32(1)
    .string(topic)
    .int32(1)
    .int32(partition)
    .bytes(batch)
    .build();
}

export interface ProduceV3Response {
  correlationId: number;
  topics: {
    name: string;
    partitions: { index: number; errorCode: number; baseOffset: bigint; logAppendTime: bigint }[];
  }[];
  throttleMs: number;
}

export function parseProduceV3(frame: Buffer): ProduceV3Response {
  const r = new R(frame);
  const correlationId = r.int32();
  const topics = [];
  for (let t = r.int32(); t > 0; t--) {
    const name = r.string()!;
    const partitions = [];
    for (let p = r.int32(); p > 0; p--)
      partitions.push({ index: r.int32(), errorCode: r.int16(), baseOffset: r.int64(), logAppendTime: r.int64() });
    topics.push({ name, partitions });
  }
  return { correlationId, topics, throttleMs: r.int32() };
}

/** ApiVersions v0 response (also the shape of the UNSUPPORTED_VERSION fallback). */
export function parseApiVersionsV0(frame: Buffer) {
  const r = new R(frame);
  const correlationId = r.int32();
  const errorCode = r.int16();
  const apis: { key: number; min: number; max: number }[] = [];
  for (let n = r.int32(); n > 0; n--) apis.push({ key: r.int16(), min: r.int16(), max: r.int16() });
  return { correlationId, errorCode, apis };
}

/** Metadata v1 body: the given topics, or null for all. */
export function metadataV1Body(topics: string[] | null): Buffer {
  const w = new W();
  if (topics === null) return w.int32(-1).build();
  w.int32(topics.length);
  for (const t of topics) w.string(t);
  return w.build();
}

/** Fetch v4 body: one partition from `offset`. */
export function fetchV4Body(topic: string, partition: number, offset: bigint, maxBytes: number, maxWaitMs = 0): Buffer {
  return new W()
    .int32(-1) // replica id
    .int32(maxWaitMs)
    .int32(1) // min bytes
    .int32(maxBytes)
    .int8(0) // read uncommitted
    .int32(1)
    .string(topic)
    .int32(1)
    .int32(partition)
    .int64(offset)
    .int32(maxBytes)
    .build();
}

export function parseFetchV4Head(frame: Buffer) {
  const r = new R(frame);
  const correlationId = r.int32();
  const throttleMs = r.int32();
  const topics = r.int32();
  const topic = r.string();
  r.int32(); // partitions
  const partition = r.int32();
  const errorCode = r.int16();
  const highWatermark = r.int64();
  return { correlationId, throttleMs, topics, topic, partition, errorCode, highWatermark };
}

/**
 * A raw connection that collects response frames (without the size prefix)
 * and notices when the broker closes it.
 */
export class WireConn {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private frames: Buffer[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  readonly ready: Promise<void>;

  constructor(host: string, port: number) {
    this.socket = net.connect({ host, port });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('error', () => {});
    this.socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 4) {
        const n = this.buf.readInt32BE(0);
        if (this.buf.length < 4 + n) break;
        this.frames.push(this.buf.subarray(4, 4 + n));
        this.buf = this.buf.subarray(4 + n);
      }
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async open(host: string, port: number) {
    const c = new WireConn(host, port);
    await c.ready;
    return c;
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(b: Buffer) {
    return new Promise<void>((resolve) => this.socket.write(b, () => resolve()));
  }

  /** The next response frame, or undefined if the connection closed first. Throws after timeoutMs. */
  async next(timeoutMs = 10_000): Promise<Buffer | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.frames.length) return this.frames.shift();
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no response and no close within ' + timeoutMs + ' ms');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves once the broker has closed the connection (throws if it answers or stays open past timeoutMs). */
  async expectClose(timeoutMs = 10_000): Promise<void> {
    const f = await this.next(timeoutMs);
    if (f !== undefined)
      throw new Error(`expected the broker to close the connection, got a ${f.length}-byte response`);
  }

  async request(
    apiKey: number,
    apiVersion: number,
    correlationId: number,
    body: Buffer,
    opts: { flexibleHeader?: boolean } = {},
  ) {
    await this.write(requestFrame(apiKey, apiVersion, correlationId, body, opts));
    const f = await this.next();
    if (!f) throw new Error(`connection closed instead of answering api ${apiKey} v${apiVersion}`);
    return f;
  }

  destroy() {
    this.socket.destroy();
  }
}
