/**
 * Bounds-checked reader over one frame of the Kafka wire protocol.
 *
 * Every read checks that the bytes it needs are inside [pos, end); a read past
 * the frame throws ProtocolError and never touches bytes beyond `end`. Length
 * prefixes are validated against the bytes that remain before anything is
 * allocated from them, so a hostile length (2^31-1 in a 20-byte frame) is an
 * error, not an allocation.
 */
import { ProtocolError } from './protocol-error.ts';

const TWO_32 = 4294967296;

export class Reader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new ProtocolError(`need ${n} bytes at offset ${this.pos}, frame ends at ${this.end}`);
    }
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.pos++] !== 0;
  }

  int8(): number {
    this.need(1);
    const v = this.buf.readInt8(this.pos);
    this.pos += 1;
    return v;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** int64 as a number when it is a safe integer, as a bigint otherwise. */
  int64(): number | bigint {
    this.need(8);
    const hi = this.buf.readInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    const v = hi * TWO_32 + lo;
    if (Number.isSafeInteger(v)) {
      this.pos += 8;
      return v;
    }
    const b = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return b;
  }

  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Unsigned LEB128 varint, at most 5 bytes (32 bits). */
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new ProtocolError('truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) throw new ProtocolError('varint overflows 32 bits');
        return result;
      }
      shift += 7;
    }
    throw new ProtocolError('varint longer than 5 bytes');
  }

  /** Zig-zag signed varint (32 bits). */
  varint(): number {
    const u = this.uvarint();
    return (u & 1) === 0 ? u / 2 : -((u + 1) / 2);
  }

  /** Zig-zag signed varlong, at most 10 bytes; a number when safe, else bigint. */
  varlong(): number | bigint {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtocolError('truncated varlong');
      const b = this.buf[this.pos++];
      if (shift > 49) {
        // Rare: values beyond 2^53. Restart in bigint arithmetic.
        return this.varlongBig(result, shift, b);
      }
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        // zig-zag decode in float arithmetic (exact below 2^53)
        return result % 2 === 0 ? result / 2 : -((result + 1) / 2);
      }
      shift += 7;
    }
    throw new ProtocolError('varlong longer than 10 bytes');
  }

  private varlongBig(lowBits: number, shift: number, firstByte: number): bigint {
    let acc = BigInt(lowBits);
    let b = firstByte;
    let s = BigInt(shift);
    for (;;) {
      acc |= BigInt(b & 0x7f) << s;
      if ((b & 0x80) === 0) break;
      s += 7n;
      if (s > 63n) throw new ProtocolError('varlong longer than 10 bytes');
      if (this.pos >= this.end) throw new ProtocolError('truncated varlong');
      b = this.buf[this.pos++];
    }
    acc = BigInt.asUintN(64, acc);
    return BigInt.asIntN(64, (acc >> 1n) ^ -(acc & 1n));
  }

  uuid(): string {
    this.need(16);
    const s = this.buf.toString('base64url', this.pos, this.pos + 16);
    this.pos += 16;
    return s;
  }

  private str(len: number): string {
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  string(): string {
    const len = this.int16();
    if (len < 0) throw new ProtocolError('non-nullable string is null');
    return this.str(len);
  }

  nullableString(): string | null {
    const len = this.int16();
    if (len < 0) {
      if (len !== -1) throw new ProtocolError(`invalid string length ${len}`);
      return null;
    }
    return this.str(len);
  }

  compactString(): string {
    const len = this.uvarint() - 1;
    if (len < 0) throw new ProtocolError('non-nullable compact string is null');
    return this.str(len);
  }

  compactNullableString(): string | null {
    const len = this.uvarint() - 1;
    if (len < 0) return null;
    return this.str(len);
  }

  /** A slice of the frame (no copy). */
  slice(len: number): Buffer {
    this.need(len);
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  bytes(): Buffer {
    const len = this.int32();
    if (len < 0) throw new ProtocolError('non-nullable bytes is null');
    return this.slice(len);
  }

  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len < 0) {
      if (len !== -1) throw new ProtocolError(`invalid bytes length ${len}`);
      return null;
    }
    return this.slice(len);
  }

  compactBytes(): Buffer {
    const len = this.uvarint() - 1;
    if (len < 0) throw new ProtocolError('non-nullable compact bytes is null');
    return this.slice(len);
  }

  compactNullableBytes(): Buffer | null {
    const len = this.uvarint() - 1;
    if (len < 0) return null;
    return this.slice(len);
  }

  /**
   * Array element count (int32, -1 = null), validated against the bytes left:
   * every element takes at least `minElemSize` bytes.
   */
  arrayLength(minElemSize: number): number {
    const n = this.int32();
    if (n < -1) throw new ProtocolError(`invalid array length ${n}`);
    if (n > 0 && n * minElemSize > this.end - this.pos) {
      throw new ProtocolError(`array length ${n} exceeds the ${this.end - this.pos} bytes left in the frame`);
    }
    return n;
  }

  /** Compact array count (uvarint N+1, 0 = null), returned as N (-1 = null). */
  compactArrayLength(minElemSize: number): number {
    const n = this.uvarint() - 1;
    if (n > 0 && n * minElemSize > this.end - this.pos) {
      throw new ProtocolError(`array length ${n} exceeds the ${this.end - this.pos} bytes left in the frame`);
    }
    return n;
  }

  /** Skip a tagged field's payload of `size` bytes. */
  skip(size: number): void {
    this.need(size);
    this.pos += size;
  }
}
