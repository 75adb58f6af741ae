/**
 * Compression codecs of a record batch's records section (attributes bits
 * 0-2): none=0, gzip=1, snappy=2, lz4=3, zstd=4, each as the Java client
 * writes it and as every mainstream client's output reads back:
 *
 * - gzip: RFC 1952 members (node zlib); concatenated members are accepted.
 * - snappy: written in xerial-snappy framing like the Java client
 *   (snappy-java's SnappyOutputStream: 8-byte magic 0x82 "SNAPPY" 0x00,
 *   int32 version 1, int32 min-compatible version 1, then blocks of
 *   [int32 compressed length][raw snappy block], each block covering at most
 *   32 KiB of input). Read: xerial framing when the magic is present, else a
 *   single raw snappy block, which librdkafka and kafkajs-snappy emit.
 * - lz4: standard LZ4 frame (KIP-57). Written with independent blocks and no
 *   checksums; decoded by lz4-napi after the frame headers and block sizes
 *   have bounded the output (a compressed block decodes to at most the
 *   frame's block maximum).
 * - zstd: standard zstd frames; streamed decompression when a frame carries no
 *   content size (the Java client streams its output).
 *
 * Decompression is bounded by `maxOutput`: a declared or produced size beyond
 * it is a DecompressedTooLargeError (a ProtocolError) before the output is
 * allocated where the format declares sizes (snappy, zstd frame headers, lz4
 * content size), otherwise as soon as the output being produced passes the
 * limit (gzip and zstd decode in chunks, xerial snappy per 32 KiB block; lz4's
 * bound comes from its block count before anything is decoded), so a small
 * payload can never make the broker hold more than `maxOutput` bytes. Any codec failure on input is a ProtocolError.
 */
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import snappy from 'snappy';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { compress as zstdCompress } from 'zstd-napi';
import { ProtocolError } from '../protocol-error.ts';

export const Compression = {
  NONE: 0,
  GZIP: 1,
  SNAPPY: 2,
  LZ4: 3,
  ZSTD: 4,
} as const;
export type CompressionCodec = (typeof Compression)[keyof typeof Compression];

const NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

/** Default ceiling on one records section after decompression. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

/** Input bytes per xerial block, as snappy-java's default block size. */
export const XERIAL_BLOCK_SIZE = 32 * 1024;
export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;

export function isCompressionCodec(id: number): id is CompressionCodec {
  return Number.isInteger(id) && id >= 0 && id <= 4;
}

export function compressionName(id: number): string {
  return isCompressionCodec(id) ? NAMES[id] : `unknown(${id})`;
}

/** Codec id for a name ('none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'). */
export function compressionByName(name: string): CompressionCodec {
  const id = (NAMES as readonly string[]).indexOf(name.toLowerCase());
  if (id < 0) throw new RangeError(`unknown compression type ${JSON.stringify(name)}`);
  return id as CompressionCodec;
}

/** Compress a records section with codec `id`. NONE returns `data` itself. */
export function compress(id: number, data: Buffer): Buffer {
  switch (id) {
    case Compression.NONE:
      return data;
    case Compression.GZIP:
      return zlib.gzipSync(data);
    case Compression.SNAPPY:
      return xerialSnappyCompress(data);
    case Compression.LZ4:
      return compressFrameSync(data, { contentChecksum: false, blockChecksums: false });
    case Compression.ZSTD:
      return zstdCompress(data, { compressionLevel: 3 });
    default:
      throw new RangeError(`unknown compression codec ${id}`);
  }
}

/** Decompress a records section written with codec `id`. NONE returns `data` itself. */
export function decompress(id: number, data: Buffer, maxOutput = DEFAULT_MAX_DECOMPRESSED_BYTES): Buffer {
  let out: Buffer;
  switch (id) {
    case Compression.NONE:
      return data;
    case Compression.GZIP:
      out = gunzip(data, maxOutput);
      break;
    case Compression.SNAPPY:
      out = isXerialFramed(data) ? xerialSnappyDecompress(data, maxOutput) : rawSnappyDecompress(data, maxOutput);
      break;
    case Compression.LZ4:
      out = lz4Decompress(data, maxOutput);
      break;
    case Compression.ZSTD:
      out = zstdDecompress(data, maxOutput);
      break;
    default:
      throw new ProtocolError(`unknown compression codec ${id}`);
  }
  if (out.length > maxOutput) throw tooLarge(out.length, maxOutput);
  return out;
}

/** The decompressed output would pass the caller's limit (the input may be well-formed). */
export class DecompressedTooLargeError extends ProtocolError {}

function tooLarge(size: number, max: number): ProtocolError {
  return new DecompressedTooLargeError(`decompressed records of ${size} bytes exceed the limit of ${max}`);
}

function codecError(codec: string, e: unknown): ProtocolError {
  if (e instanceof ProtocolError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new ProtocolError(`${codec}: corrupt compressed records (${msg})`);
}

// ---------------------------------------------------------------- gzip

function gunzip(data: Buffer, maxOutput: number): Buffer {
  try {
    return zlib.gunzipSync(data, { maxOutputLength: Math.max(1, maxOutput) });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxOutput + 1, maxOutput);
    throw codecError('gzip', e);
  }
}

// ---------------------------------------------------------------- snappy

export function isXerialFramed(data: Buffer): boolean {
  return data.length >= XERIAL_MAGIC.length && data.compare(XERIAL_MAGIC, 0, 8, 0, 8) === 0;
}

/** Uncompressed length declared by a raw snappy block's uvarint preamble. */
function snappyDeclaredLength(block: Buffer): number {
  let result = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw new ProtocolError('snappy: truncated length preamble');
    const b = block[i];
    result += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return result;
  }
  throw new ProtocolError('snappy: length preamble longer than 5 bytes');
}

function rawSnappyDecompress(block: Buffer, maxOutput: number): Buffer {
  const declared = snappyDeclaredLength(block);
  if (declared > maxOutput) throw tooLarge(declared, maxOutput);
  try {
    return snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (e) {
    throw codecError('snappy', e);
  }
}

function xerialSnappyDecompress(data: Buffer, maxOutput: number): Buffer {
  if (data.length < XERIAL_HEADER_SIZE) throw new ProtocolError('snappy: truncated xerial header');
  // Walk the blocks once to bound the output before decompressing any.
  const blocks: Buffer[] = [];
  let total = 0;
  let pos = XERIAL_HEADER_SIZE;
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new ProtocolError('snappy: truncated xerial block length');
    const len = data.readInt32BE(pos);
    pos += 4;
    if (len < 0 || pos + len > data.length)
      throw new ProtocolError(`snappy: xerial block of ${len} bytes overruns the input`);
    const block = data.subarray(pos, pos + len);
    pos += len;
    total += snappyDeclaredLength(block);
    if (total > maxOutput) throw tooLarge(total, maxOutput);
    blocks.push(block);
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const block of blocks) {
    let part: Buffer;
    try {
      part = snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
    } catch (e) {
      throw codecError('snappy', e);
    }
    if (at + part.length > total) throw new ProtocolError('snappy: block longer than its declared length');
    part.copy(out, at);
    at += part.length;
  }
  if (at !== total) throw new ProtocolError('snappy: block shorter than its declared length');
  return out;
}

/** xerial-framed snappy, as the Java client's SnappyOutputStream writes it. */
export function xerialSnappyCompress(data: Buffer, blockSize = XERIAL_BLOCK_SIZE): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(1, 8); // version
  header.writeInt32BE(1, 12); // minimum compatible version
  parts.push(header);
  for (let at = 0; at < data.length; at += blockSize) {
    const block = snappy.compressSync(data.subarray(at, Math.min(data.length, at + blockSize)));
    const len = Buffer.allocUnsafe(4);
    len.writeInt32BE(block.length, 0);
    parts.push(len, block);
  }
  return Buffer.concat(parts);
}

/** One raw snappy block (what librdkafka and kafkajs-snappy write). */
export function rawSnappyCompress(data: Buffer): Buffer {
  return snappy.compressSync(data);
}

// ---------------------------------------------------------------- lz4

const LZ4_FRAME_MAGIC = 0x184d2204;
const LZ4_SKIPPABLE_MASK = 0xfffffff0;
const LZ4_SKIPPABLE_MAGIC = 0x184d2a50;
const LZ4_UNCOMPRESSED_BIT = 0x80000000;

/**
 * Where the LZ4 frames in `data` are (skippable frames left out), and the
 * most bytes they can decode to, read from the frame headers and block sizes alone: a
 * frame's declared content size, else the sum of its blocks' bounds (the
 * frame's block maximum for a compressed block, the length of a stored one).
 * Malformed framing is a ProtocolError; a declared content size over
 * `maxOutput` is refused as soon as it is read.
 */
function lz4Frames(data: Buffer, maxOutput: number): { bound: number; frames: [number, number][] } {
  let bound = 0;
  const frames: [number, number][] = [];
  let pos = 0;
  const need = (n: number) => {
    if (n > data.length - pos) throw new ProtocolError('lz4: truncated frame');
  };
  while (pos < data.length) {
    need(4);
    const magic = data.readUInt32LE(pos);
    if ((magic & LZ4_SKIPPABLE_MASK) >>> 0 === LZ4_SKIPPABLE_MAGIC) {
      need(8);
      const skip = data.readUInt32LE(pos + 4);
      pos += 8;
      need(skip);
      pos += skip;
      continue;
    }
    if (magic !== LZ4_FRAME_MAGIC) throw new ProtocolError(`lz4: bad frame magic 0x${magic.toString(16)}`);
    const frameStart = pos;
    need(7);
    const flg = data[pos + 4];
    const bd = data[pos + 5];
    if (flg >> 6 !== 1) throw new ProtocolError(`lz4: unsupported frame version ${flg >> 6}`);
    if (flg & 0x02 || bd & 0x8f) throw new ProtocolError('lz4: reserved frame descriptor bits set');
    const blockSizeId = (bd >> 4) & 0x07;
    if (blockSizeId < 4) throw new ProtocolError(`lz4: invalid block size id ${blockSizeId}`);
    const blockMax = 1 << (8 + 2 * blockSizeId);
    const blockChecksums = (flg & 0x10) !== 0;
    const hasContentSize = (flg & 0x08) !== 0;
    pos += 6;
    let declared = -1;
    if (hasContentSize) {
      need(8);
      declared = data.readUInt32LE(pos) + data.readUInt32LE(pos + 4) * 4294967296;
      if (bound + declared > maxOutput) throw tooLarge(bound + declared, maxOutput);
      pos += 8;
    }
    if (flg & 0x01) {
      need(4);
      pos += 4; // dictionary id
    }
    need(1);
    pos += 1; // header checksum
    let blocksBound = 0;
    for (;;) {
      need(4);
      const word = data.readUInt32LE(pos);
      pos += 4;
      if (word === 0) break; // end mark
      const n = (word & ~LZ4_UNCOMPRESSED_BIT) >>> 0;
      if (n > blockMax)
        throw new ProtocolError(`lz4: block of ${n} bytes exceeds the frame's ${blockMax}-byte maximum`);
      need(n + (blockChecksums ? 4 : 0));
      blocksBound += (word & LZ4_UNCOMPRESSED_BIT) !== 0 ? n : blockMax;
      pos += n + (blockChecksums ? 4 : 0);
    }
    if (flg & 0x04) {
      need(4);
      pos += 4; // content checksum
    }
    bound += declared >= 0 ? Math.min(declared, blocksBound) : blocksBound;
    frames.push([frameStart, pos]);
  }
  return { bound, frames };
}

/**
 * LZ4 frames decoded by lz4-napi once their framing shows the output cannot
 * pass `maxOutput` (the decoder itself takes no output limit).
 */
function lz4Decompress(data: Buffer, maxOutput: number): Buffer {
  const { bound, frames } = lz4Frames(data, maxOutput);
  if (bound > maxOutput) throw tooLarge(bound, maxOutput);
  let out: Buffer;
  try {
    // lz4-napi decodes one frame per call
    out =
      frames.length === 1 && frames[0][0] === 0 && frames[0][1] === data.length
        ? decompressFrameSync(data)
        : Buffer.concat(frames.map(([from, to]) => decompressFrameSync(data.subarray(from, to))));
  } catch (e) {
    throw codecError('lz4', e);
  }
  if (out.length > bound)
    throw new ProtocolError(`lz4: decoded ${out.length} bytes, more than the frames allow (${bound})`);
  return out;
}

// ---------------------------------------------------------------- zstd

interface ZstdDCtx {
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
  reset(directive: number): void;
}
interface ZstdBinding {
  DCtx: new () => ZstdDCtx;
  ResetDirective: { sessionOnly: number };
  getFrameContentSize(frame: Uint8Array): number | null;
  findFrameCompressedSize(frame: Uint8Array): number;
  dStreamOutSize(): number;
}
const zstdBinding = createRequire(import.meta.url)('zstd-napi/binding') as ZstdBinding;
const ZSTD_OUT_CHUNK = zstdBinding.dStreamOutSize();
/** ZSTD_reset_session_only: drop any frame left half-decoded by a failed call, keep the context's memory. */
const ZSTD_RESET_SESSION = zstdBinding.ResetDirective.sessionOnly;
/** One decompression context, reused: creating one per batch costs more than decoding a small batch. */
let zstdDctx: ZstdDCtx | undefined;

/** Sum of the frames' declared content sizes, or null if any frame omits it. */
function zstdDeclaredSize(data: Buffer): number | null {
  let total = 0;
  let frame: Buffer = data;
  while (frame.length > 0) {
    const size = zstdBinding.getFrameContentSize(frame);
    if (size === null) return null;
    total += size;
    frame = frame.subarray(zstdBinding.findFrameCompressedSize(frame));
  }
  return total;
}

function zstdDecompress(data: Buffer, maxOutput: number): Buffer {
  try {
    const declared = zstdDeclaredSize(data);
    if (declared !== null && declared > maxOutput) throw tooLarge(declared, maxOutput);
    const dctx = (zstdDctx ??= new zstdBinding.DCtx());
    dctx.reset(ZSTD_RESET_SESSION);
    const chunks: Buffer[] = [];
    let total = 0;
    let input: Buffer = data;
    for (;;) {
      const room = Math.min(Math.max(ZSTD_OUT_CHUNK, declared ?? input.length), maxOutput - total + 1);
      const chunk = Buffer.allocUnsafe(Math.max(1, room));
      const [pending, produced, consumed] = dctx.decompressStream(chunk, input);
      input = input.subarray(consumed);
      if (produced > 0) {
        total += produced;
        if (total > maxOutput) throw tooLarge(total, maxOutput);
        chunks.push(chunk.subarray(0, produced));
      }
      if (input.length === 0) {
        if (pending === 0) break; // last frame decoded and flushed
        if (produced < chunk.length) throw new ProtocolError('zstd: truncated frame');
      }
      if (produced === 0 && consumed === 0) throw new ProtocolError('zstd: no progress decoding frame');
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  } catch (e) {
    throw codecError('zstd', e);
  }
}
