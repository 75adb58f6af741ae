/**
 * The state of one log dir, as the broker answers for it:
 *
 *   online  writes accepted.
 *   full    a write got ENOSPC (or EDQUOT). Writes are refused without
 *           touching the disk (produce answers KAFKA_STORAGE_ERROR); reads
 *           are served. Back to online when a probe write of `probeBytes`
 *           (written, fsynced, removed) succeeds: after retention or a topic
 *           deletion freed space, or an operator removed files.
 *   failed  an fsync failed, or a write failed with anything but "no space"
 *           (EIO, EROFS...; out of descriptors or memory only fail the
 *           operation). After a failed fsync the kernel may have dropped
 *           the dirty pages and will not report it again, so nothing written
 *           there is ever acknowledged again: writes and fsyncs are refused
 *           until the broker restarts (and recovers the logs). Reads are
 *           served.
 *
 * Every state change is logged once; the requests refused meanwhile are not.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KafkaStorageError } from './errors.ts';
import { fsyncFd, isIoError, isNoSpace, writeFully } from './file-io.ts';
import type { StorageLogger } from './partition-log.ts';

export type LogDirState = 'online' | 'full' | 'failed';

/** Errors of the process, not of the disk: they fail the operation and leave the state alone. */
const TRANSIENT = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EINTR']);

/** Probe write size: some room for more than one batch before the dir is called online again. */
export const PROBE_BYTES = 1024 * 1024;
export const PROBE_FILE = '.samsa-space-probe';

export class LogDirHealth {
  private _state: LogDirState = 'online';
  private reason = '';
  private readonly listeners: ((h: LogDirHealth) => void)[] = [];

  constructor(
    readonly dir: string,
    private readonly logger: StorageLogger,
    readonly probeBytes = PROBE_BYTES,
  ) {}

  get state(): LogDirState {
    return this._state;
  }

  /** Failed for good (until restart). */
  isFailed(): boolean {
    return this._state === 'failed';
  }

  /** Called after every state change. */
  onChange(cb: (h: LogDirHealth) => void): void {
    this.listeners.push(cb);
  }

  /** The error an operation refused by a full or failed dir fails with. */
  refusal(): KafkaStorageError {
    return new KafkaStorageError(`log dir ${this.dir} is ${this._state}: ${this.reason}`, this.dir);
  }

  /**
   * A write under this dir threw `err` while doing `what`. I/O errors change
   * the state (full on no space, failed otherwise) and come back as the
   * KafkaStorageError the operation fails with; other errors (bugs) come back
   * unchanged.
   */
  writeFailed(err: unknown, what: string): Error {
    if (err instanceof KafkaStorageError) return err;
    if (!isIoError(err)) return err as Error;
    if (isNoSpace(err)) this.set('full', `${what}: ${err.message}`);
    else if (!TRANSIENT.has(err.code!)) this.set('failed', `${what}: ${err.message}`);
    return new KafkaStorageError(`${what} failed in log dir ${this.dir}: ${err.message}`, this.dir, err);
  }

  /** An fsync (of a file or of the directory) threw: failed for good, whatever the error. */
  fsyncFailed(err: unknown, what: string): KafkaStorageError {
    if (err instanceof KafkaStorageError) return err;
    this.set('failed', `${what}: fsync failed: ${(err as Error)?.message ?? String(err)}`);
    return new KafkaStorageError(
      `${what}: fsync failed in log dir ${this.dir}: ${(err as Error)?.message ?? String(err)}`,
      this.dir,
      err,
    );
  }

  /**
   * While full: write, fsync and remove a probe file; online again when that
   * works. Returns whether the dir is online afterwards.
   */
  probe(): boolean {
    if (this._state === 'online') return true;
    if (this._state === 'failed') return false;
    const file = path.join(this.dir, PROBE_FILE);
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, 'w');
      writeFully(fd, Buffer.alloc(this.probeBytes), 0, this.probeBytes, 0);
      fsyncFd(fd);
    } catch (err) {
      if (!isNoSpace(err)) this.set('failed', `space probe: ${(err as Error).message}`);
      return false;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(file, { force: true });
    }
    this.set('online', '');
    return true;
  }

  private set(state: LogDirState, reason: string): void {
    if (this._state === state || this._state === 'failed') return;
    this._state = state;
    this.reason = reason;
    if (state === 'full') {
      this.logger.warn(
        { dir: this.dir, reason },
        'log dir is full: writes refused (produce answers KAFKA_STORAGE_ERROR), reads served, until space is freed',
      );
    } else if (state === 'failed') {
      this.logger.error(
        { dir: this.dir, reason },
        'log dir failed: nothing more is written or acknowledged from it until the broker restarts; reads served',
      );
    } else {
      this.logger.info({ dir: this.dir }, 'log dir has space again: writes accepted');
    }
    for (const l of this.listeners) l(this);
  }
}
