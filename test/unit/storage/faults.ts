/**
 * Fault injection for storage writes: a FileIO (src/storage/file-io.ts) that
 * passes calls to the real one until a rule matches, then fails it with a
 * short write, ENOSPC or EIO. Rules pick the call by operation, by the path
 * of the file (read from /proc/self/fd) and by how many matching calls to let
 * through first.
 */
import fs from 'node:fs';
import { type FileIO, realFileIO, setFileIO, errnoError } from '../../../src/storage/file-io.ts';

export type FaultOp = 'write' | 'fsync' | 'fdatasync';
export type FaultKind = 'short' | 'ENOSPC' | 'EIO';

export interface FaultRule {
  op: FaultOp;
  kind: FaultKind;
  /** Only calls on files whose path passes this (default: any). */
  file?: (path: string) => boolean;
  /** Matching calls let through before the first failure (default 0). */
  skip?: number;
  /** How many matching calls fail once failing starts (default Infinity). */
  times?: number;
}

export function fdPath(fd: number): string {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return '';
  }
}

export class FaultyIO implements FileIO {
  private rules: { rule: FaultRule; seen: number; failed: number }[] = [];
  /** Calls failed so far, with the file they hit. */
  readonly injected: { op: FaultOp; kind: FaultKind; file: string }[] = [];

  add(rule: FaultRule): this {
    this.rules.push({ rule, seen: 0, failed: 0 });
    return this;
  }

  clear(): void {
    this.rules = [];
  }

  private pick(op: FaultOp, fd: number): { kind: FaultKind; file: string } | null {
    let file: string | undefined;
    for (const r of this.rules) {
      if (r.rule.op !== op) continue;
      if (r.rule.file) {
        file ??= fdPath(fd);
        if (!r.rule.file(file)) continue;
      }
      r.seen++;
      if (r.seen <= (r.rule.skip ?? 0) || r.failed >= (r.rule.times ?? Infinity)) continue;
      r.failed++;
      file ??= fdPath(fd);
      this.injected.push({ op, kind: r.rule.kind, file });
      return { kind: r.rule.kind, file };
    }
    return null;
  }

  write(fd: number, buf: Uint8Array, offset: number, length: number, pos: number | null): number {
    const f = this.pick('write', fd);
    if (!f) return realFileIO.write(fd, buf, offset, length, pos);
    if (f.kind === 'short') {
      // Half of it lands, as a file system that runs out of room mid-write does.
      const half = Math.floor(length / 2);
      return half > 0 ? realFileIO.write(fd, buf, offset, half, pos) : 0;
    }
    throw errnoError(f.kind, `injected ${f.kind} on write to ${f.file}`);
  }

  fsync(fd: number): void {
    const f = this.pick('fsync', fd);
    if (f) throw errnoError(f.kind === 'short' ? 'EIO' : f.kind, `injected ${f.kind} on fsync of ${f.file}`);
    realFileIO.fsync(fd);
  }

  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void {
    const f = this.pick('fdatasync', fd);
    if (!f) {
      realFileIO.fdatasync(fd, cb);
      return;
    }
    const e = errnoError(f.kind === 'short' ? 'EIO' : f.kind, `injected ${f.kind} on fdatasync of ${f.file}`);
    setImmediate(() => cb(e));
  }
}

/** Run `fn` with `io` installed as the storage write seam; the real one is back afterwards. */
export async function withFileIO<T>(io: FileIO, fn: () => Promise<T> | T): Promise<T> {
  setFileIO(io);
  try {
    return await fn();
  } finally {
    setFileIO(null);
  }
}
