/**
 * A byte range of a segment's `.log` file handed to the network as it is,
 * instead of being read into memory: the transport sends it with sendfile(2)
 * (Kafka's zero-copy fetch, FileChannel.transferTo). A region keeps its
 * segment's descriptor open (the segment defers closing, as it does for an
 * fsync in flight) until it is unpinned, exactly once, after the bytes left.
 *
 * It satisfies the protocol writer's ExternalBytes: the writer counts its
 * length and passes it through as a chunk of its own.
 */
import fs from 'node:fs';
import { invariant } from './errors.ts';

/** What a region holds open: its segment's file (see LogSegment.holdFile). */
export interface FileHold {
  readonly fd: number;
  release(): void;
}

export class FileRegion {
  /** Regions not yet unpinned, across the process (a leak shows here). */
  static outstanding = 0;
  readonly external = true;
  private held = true;

  constructor(
    private readonly hold: FileHold,
    /** File position of the first byte. */
    readonly position: number,
    readonly length: number,
  ) {
    FileRegion.outstanding++;
  }

  /** The open descriptor (valid until unpin). */
  get fd(): number {
    invariant(this.held, 'file region used after unpin');
    return this.hold.fd;
  }

  /**
   * Copy `len` bytes starting `from` bytes into the region into `into` (a new
   * buffer by default) and return them (the transport's fallback when it
   * cannot send the rest in place). Throws when the file no longer holds them.
   */
  read(from: number, len: number, into: Buffer = Buffer.allocUnsafe(len)): Buffer {
    invariant(from >= 0 && from + len <= this.length && into.length >= len, 'file region read out of range');
    const buf = into.subarray(0, len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(this.fd, buf, got, len - got, this.position + from + got);
      if (n === 0) throw new Error(`file region ends early: ${got} of ${len} bytes at ${this.position + from}`);
      got += n;
    }
    return buf;
  }

  unpin(): void {
    invariant(this.held, 'file region unpinned twice');
    this.held = false;
    FileRegion.outstanding--;
    this.hold.release();
  }
}
