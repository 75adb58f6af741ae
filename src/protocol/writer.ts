/**
 * Growable writer for the Kafka wire protocol.
 *
 * Small fields are written into a scratch buffer; large byte payloads (record
 * batches read from the log) are not copied: the writer closes the current
 * chunk and keeps a reference to the caller's Buffer, so a Fetch response is a
 * list of slices handed to the socket as they are (`chunks()`). Bytes that
 * are not in memory at all (a file range the transport sends with sendfile)
 * come as ExternalBytes: counted, and passed through as a chunk of their own.
 */
const ZERO_COPY_THRESHOLD = 1024;

/** Bytes the transport writes itself (e.g. a file range); the writer only counts them. */
export interface ExternalBytes {
  readonly external: true;
  readonly length: number;
}

/** A byte payload: one buffer, or slices in order (some of them possibly external). */
export type ByteChunks = Buffer | readonly (Buffer | ExternalBytes)[];
/** What chunks() returns. */
export type Chunk = Buffer | ExternalBytes;
const TWO_32 = 4294967296;

export class Writer {
  private buf: Buffer;
  private pos = 0;
  private start = 0; // start of the current (not yet closed) chunk in buf
  private done: Chunk[] = [];
  private external = false;
  private doneBytes = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.doneBytes + (this.pos - this.start);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    // Keep earlier chunks that reference the old buffer valid: only copy the open chunk.
    const open = this.pos - this.start;
    const size = Math.max(this.buf.length * 2, open + n, 256);
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = open;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }

  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  uint16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  uint32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  int64(v: number | bigint): void {
    this.ensure(8);
    if (typeof v === 'number') {
      const hi = Math.floor(v / TWO_32);
      const lo = v - hi * TWO_32;
      this.buf.writeInt32BE(hi, this.pos);
      this.buf.writeUInt32BE(lo, this.pos + 4);
    } else {
      this.buf.writeBigInt64BE(v, this.pos);
    }
    this.pos += 8;
  }

  float64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  uvarint(v: number): void {
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  varint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  varlong(v: number | bigint): void {
    if (typeof v === 'number' && Math.abs(v) < 2 ** 52) {
      let u = v >= 0 ? v * 2 : -v * 2 - 1;
      this.ensure(10);
      while (u >= 0x80) {
        this.buf[this.pos++] = (u % 128) | 0x80;
        u = Math.floor(u / 128);
      }
      this.buf[this.pos++] = u;
      return;
    }
    const b = BigInt(v);
    let u = BigInt.asUintN(64, (b << 1n) ^ (b >> 63n));
    this.ensure(10);
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  uuid(v: string): void {
    this.ensure(16);
    const n = this.buf.write(v, this.pos, 16, 'base64url');
    if (n !== 16) throw new TypeError(`invalid uuid ${JSON.stringify(v)}`);
    this.pos += 16;
  }

  private utf8(v: string, len: number): void {
    this.ensure(len);
    this.buf.write(v, this.pos, len, 'utf8');
    this.pos += len;
  }

  string(v: string): void {
    const len = Buffer.byteLength(v, 'utf8');
    if (len > 0x7fff) throw new RangeError(`string of ${len} bytes is too long`);
    this.int16(len);
    this.utf8(v, len);
  }

  nullableString(v: string | null): void {
    if (v === null || v === undefined) this.int16(-1);
    else this.string(v);
  }

  compactString(v: string): void {
    const len = Buffer.byteLength(v, 'utf8');
    this.uvarint(len + 1);
    this.utf8(v, len);
  }

  compactNullableString(v: string | null): void {
    if (v === null || v === undefined) this.uvarint(0);
    else this.compactString(v);
  }

  /** Raw bytes; large ones are kept by reference (no copy). Accepts a list of slices. */
  raw(v: ByteChunks): void {
    if (Buffer.isBuffer(v)) {
      this.rawOne(v);
    } else {
      for (const b of v) this.rawOne(b);
    }
  }

  private rawOne(v: Buffer | ExternalBytes): void {
    if (!Buffer.isBuffer(v)) {
      this.closeChunk();
      this.done.push(v);
      this.doneBytes += v.length;
      this.external = true;
      return;
    }
    if (v.length >= ZERO_COPY_THRESHOLD) {
      this.closeChunk();
      this.done.push(v);
      this.doneBytes += v.length;
      return;
    }
    this.ensure(v.length);
    v.copy(this.buf, this.pos);
    this.pos += v.length;
  }

  private closeChunk(): void {
    if (this.pos > this.start) {
      this.done.push(this.buf.subarray(this.start, this.pos));
      this.doneBytes += this.pos - this.start;
      this.start = this.pos;
    }
  }

  static byteLength(v: ByteChunks): number {
    if (Buffer.isBuffer(v)) return v.length;
    let n = 0;
    for (const b of v) n += b.length;
    return n;
  }

  bytes(v: ByteChunks): void {
    this.int32(Writer.byteLength(v));
    this.raw(v);
  }

  nullableBytes(v: ByteChunks | null): void {
    if (v === null || v === undefined) this.int32(-1);
    else this.bytes(v);
  }

  compactBytes(v: ByteChunks): void {
    this.uvarint(Writer.byteLength(v) + 1);
    this.raw(v);
  }

  compactNullableBytes(v: ByteChunks | null): void {
    if (v === null || v === undefined) this.uvarint(0);
    else this.compactBytes(v);
  }

  arrayLength(n: number): void {
    this.int32(n);
  }

  compactArrayLength(n: number): void {
    this.uvarint(n + 1);
  }

  /** All bytes written, as slices in order (large payloads by reference, external bytes as given). */
  chunks(): Chunk[] {
    this.closeChunk();
    return this.done;
  }

  /** All bytes written, as one Buffer (copies when there is more than one chunk). */
  toBuffer(): Buffer {
    if (this.external)
      throw new Error('Writer.toBuffer: the message holds external bytes, which only a transport can write');
    const c = this.chunks() as Buffer[];
    if (c.length === 1) return c[0];
    return Buffer.concat(c, this.doneBytes);
  }
}
