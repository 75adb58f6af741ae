/**
 * Zero-copy fetch: a FileRegion (a range of a segment file) goes to a client
 * socket with sendfile(2), through the addon in native/ (built by
 * scripts/build-native.mjs on `npm install`). The page cache feeds the socket
 * directly: no pread into memory and no copy from memory into the socket, the
 * two copies per byte that otherwise dominate the broker's CPU when consumers
 * catch up (docs/performance.md).
 *
 * The call never blocks: it sends what the socket's send buffer takes now.
 * When the buffer is full (a consumer slower than the broker), the connection
 * reads a piece of the region into pooled memory and queues it like any
 * buffer; Node's write callback for that piece then says the socket drained,
 * and sendfile goes on (connection.ts). Without the addon (not Linux, no
 * compiler at install, or SAMSA_SENDFILE=0) the broker never makes regions:
 * Segment.read fills pooled memory instead.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { sharedBufferPool } from '../storage/buffer-pool.ts';
import type { FileRegion } from '../storage/file-region.ts';

interface Native {
  sendfile(outFd: number, inFd: number, position: number, length: number): number;
}

function load(): { native: Native | null; why: string } {
  if (process.env.SAMSA_SENDFILE === '0') return { native: null, why: 'SAMSA_SENDFILE=0' };
  if (process.platform !== 'linux')
    return { native: null, why: `sendfile is used on Linux only (this is ${process.platform})` };
  try {
    return { native: createRequire(import.meta.url)('../../native/build/samsa_native.node') as Native, why: '' };
  } catch (err) {
    return {
      native: null,
      why: `native/build/samsa_native.node did not load (${(err as Error).message.split('\n')[0]}); run: node scripts/build-native.mjs`,
    };
  }
}

const loaded = load();

/** Fetch hands out file regions only when they can be sent in place. */
export const sendfileAvailable = loaded.native !== null;
/** Why not, when not (for the start-up log). */
export const sendfileUnavailableReason = loaded.why;

/** Bytes of file regions sent in place and bytes that had to be read and written (the process's totals). */
export const sendfileStats = { regions: 0, bytesInPlace: 0, bytesCopied: 0 };

interface StreamHandle {
  fd?: number;
  writeQueueSize?: number;
}

/** The socket's libuv handle when sendfile can write to it (a plain TCP socket, not TLS, the addon loaded), else null. */
function sendfileHandle(socket: Socket): Required<StreamHandle> | null {
  // a TLS socket's handle is the TCP connection under the encryption: bytes written to its fd would bypass TLS
  if ((socket as { encrypted?: boolean }).encrypted) return null;
  const handle = (socket as unknown as { _handle?: StreamHandle })._handle;
  return loaded.native && handle && typeof handle.fd === 'number' && handle.fd >= 0
    ? (handle as Required<StreamHandle>)
    : null;
}

/** Whether regions can go to this socket by sendfile at all (if not, they are copied whole). */
export function canSendInPlace(socket: Socket): boolean {
  return sendfileHandle(socket) !== null;
}

/**
 * Sends as much of `region` from `from` on as the socket takes now, by
 * sendfile, and returns how many bytes that was: 0 when the addon is missing,
 * the socket is not a plain TCP handle, or bytes are still queued on it (Node's
 * or libuv's queue; they must leave first, or the region would overtake them).
 * The caller has released the socket's cork.
 */
export function sendInPlace(socket: Socket, region: FileRegion, from: number): number {
  if (from === 0) sendfileStats.regions++;
  const handle = sendfileHandle(socket);
  if (handle?.writeQueueSize !== 0 || socket.writableLength !== 0) return 0;
  const n = loaded.native!.sendfile(handle.fd, region.fd, region.position + from, region.length - from);
  if (n <= 0) return 0; // < 0: a socket error, which the next write reports and closes on
  sendfileStats.bytesInPlace += n;
  return n;
}

/**
 * Bytes of the region read into pooled memory (see storage/buffer-pool.ts),
 * for what sendfile does not cover; `release` once the socket has written
 * them (the write's callback).
 */
export function copyOut(region: FileRegion, from: number, len: number): { bytes: Buffer; release: () => void } {
  const block = sharedBufferPool.acquire(len);
  block.pin();
  block.retire(); // its only owner is this copy: back to the pool when unpinned
  try {
    const bytes = region.read(from, len, block.buf);
    sendfileStats.bytesCopied += len;
    return { bytes, release: () => block.unpin() };
  } catch (err) {
    block.unpin();
    throw err;
  }
}
