/**
 * Zig-zag varint/varlong sizes and in-place writes at a position of a
 * preallocated Buffer: the record encoder sizes a batch exactly, allocates it
 * once and writes every field in place.
 */

/** Bytes of the unsigned LEB128 encoding of `u` (u >= 0, below 2^53). */
export function sizeOfUVarint(u: number): number {
  let n = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

/** Bytes of a zig-zag varint or varlong holding `v` (|v| < 2^52). */
export function sizeOfVarint(v: number): number {
  return sizeOfUVarint(zigzag(v));
}

/** Write unsigned LEB128 `u` at `pos`; returns the position after it. */
export function writeUVarintAt(buf: Buffer, pos: number, u: number): number {
  while (u >= 0x80) {
    buf[pos++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[pos++] = u;
  return pos;
}

/** Write zig-zag varint/varlong `v` (|v| < 2^52) at `pos`; returns the position after it. */
export function writeVarintAt(buf: Buffer, pos: number, v: number): number {
  return writeUVarintAt(buf, pos, zigzag(v));
}
