/**
 * Reads of an accepted socket into buffers we choose. Node offers this for
 * sockets it creates (`new net.Socket({ onread })`), not for those a server
 * accepts, so this sets the same three fields the `onread` option sets, found
 * by their symbols' names, on a socket that has not read yet. Node 20 and 22
 * have them; when they are missing (another runtime or version), it reports
 * false and the caller keeps Node's 'data' events.
 */
import type { Socket } from 'node:net';

export interface UserBufferReads {
  /** The buffer the next read goes into (called after every read). */
  next(): Buffer;
  /** `n` bytes were read into `buf` (the buffer next() gave for this read). */
  read(n: number, buf: Buffer): void;
}

interface HandleWithUserBuffer {
  useUserBuffer(buf: Uint8Array): void;
}

export function readIntoUserBuffers(socket: Socket, reads: UserBufferReads): boolean {
  if (process.env.SAMSA_SOCKET_USER_BUFFER === '0') return false;
  const handle = (socket as unknown as { _handle?: Partial<HandleWithUserBuffer> | null })._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function') return false;
  const symbols = Object.getOwnPropertySymbols(socket);
  const find = (name: string) => symbols.find((s) => s.description === name);
  const kBuffer = find('kBuffer');
  const kBufferCb = find('kBufferCb');
  const kBufferGen = find('kBufferGen');
  if (!kBuffer || !kBufferCb || !kBufferGen) return false;
  const s = socket as unknown as Record<symbol, unknown>;
  // Only before the first read, and only on a socket nobody else set up this way.
  if (s[kBuffer] !== null || s[kBufferCb] !== null || s[kBufferGen] !== null) return false;
  const first = reads.next();
  s[kBufferGen] = () => reads.next();
  s[kBufferCb] = (n: number, buf: Buffer) => {
    reads.read(n, buf);
  };
  s[kBuffer] = first;
  (handle as HandleWithUserBuffer).useUserBuffer(first);
  return true;
}
