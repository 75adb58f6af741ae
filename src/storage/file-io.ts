/**
 * The storage write seam: every write and fsync of the storage engine and the
 * metadata log goes through `fileIO`, so tests can inject short writes,
 * ENOSPC and EIO (on write and on fsync) without a real failing disk. One
 * function-pointer call per write or fsync; nothing per record.
 *
 * The write discipline built on it:
 * - `writeFully` loops until every byte is written; a write that makes no
 *   progress is ENOSPC. It never returns having written less.
 * - `replaceFile` replaces a file atomically: `<file>.tmp`, write, fsync,
 *   rename, fsync the directory. A failure removes the temp file and throws;
 *   the old file is untouched.
 * - `fsyncDir` reports failures (only "this platform cannot fsync a
 *   directory" is ignored).
 * A caller whose write or fsync threw fails the operation it belongs to.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface FileIO {
  /** Positional write (`pos` null: at the file position); returns bytes written, which may be fewer than asked. */
  write(fd: number, buf: Uint8Array, offset: number, length: number, pos: number | null): number;
  /** fsync (file or directory), synchronous. */
  fsync(fd: number): void;
  /** fdatasync on the thread pool. */
  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
}

export const realFileIO: FileIO = {
  write: (fd, buf, offset, length, pos) => fs.writeSync(fd, buf, offset, length, pos),
  fsync: (fd) => fs.fsyncSync(fd),
  fdatasync: (fd, cb) => fs.fdatasync(fd, cb),
};

/** The seam in use (tests swap it with setFileIO). */
export let fileIO: FileIO = realFileIO;

/** Install a file-I/O implementation (null: the real one). Tests only. */
export function setFileIO(io: FileIO | null): void {
  fileIO = io ?? realFileIO;
}

export function errnoError(code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${message}`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** The error means the file system has no room (ENOSPC, EDQUOT): recoverable once space is freed. */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** The error came from the operating system (has an errno code), not from our code. */
export function isIoError(err: unknown): err is NodeJS.ErrnoException {
  return (
    err instanceof Error &&
    typeof (err as NodeJS.ErrnoException).code === 'string' &&
    /^E[A-Z0-9]+$/.test((err as NodeJS.ErrnoException).code!)
  );
}

/** Write all of buf[offset, offset+length) at `pos` (null: the file position), or throw. */
export function writeFully(fd: number, buf: Uint8Array, offset: number, length: number, pos: number | null): void {
  let done = 0;
  while (done < length) {
    const n = fileIO.write(fd, buf, offset + done, length - done, pos === null ? null : pos + done);
    if (!(n > 0)) throw errnoError('ENOSPC', `write of ${length - done} bytes made no progress`);
    done += n;
  }
}

export function fsyncFd(fd: number): void {
  fileIO.fsync(fd);
}

export function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fileIO.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
}

/** Make renames and new files in `dir` durable. */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EISDIR' || (err as NodeJS.ErrnoException).code === 'EPERM') return;
    throw err;
  }
  try {
    fileIO.fsync(fd);
  } catch (err) {
    // Some platforms refuse fsync on directories; nothing more can be done there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'ENOTSUP' && code !== 'EPERM') throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/** Replace `file` with `data` atomically and durably (temp file, fsync, rename, fsync dir). */
export function replaceFile(file: string, data: Buffer | string): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    writeFully(fd, buf, 0, buf.length, 0);
    fileIO.fsync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}
