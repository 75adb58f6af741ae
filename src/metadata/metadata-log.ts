/**
 * The cluster metadata log on a single node: an append-only file of framed
 * records, fsynced before an append is acknowledged, replayed at startup.
 *
 * Frame: length int32 | crc32c uint32 (of the payload) | payload (JSON of one
 * batch of MetadataRecords, applied atomically). A torn or corrupt tail
 * (kill -9 or power loss mid-append) is truncated on replay; it was never
 * acknowledged.
 *
 * This is the seam for clustering: a Raft-replicated log will implement the
 * same interface, with the controller as the only writer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import type { MetadataRecord } from './records.ts';

export interface MetadataLog {
  /** Records written so far, in order, as batches. */
  replay(): MetadataRecord[][];
  /** Durably append one batch; resolves once it is on disk. */
  append(batch: MetadataRecord[]): Promise<void>;
  close(): void;
}

const MAX_FRAME = 64 * 1024 * 1024;

export class FileMetadataLog implements MetadataLog {
  private fd: number;
  private size: number;
  private readonly file: string;

  constructor(dir: string, private readonly onTruncate?: (droppedBytes: number) => void) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, 'cluster-metadata.log');
    this.fd = fs.openSync(this.file, 'a+');
    this.size = fs.fstatSync(this.fd).size;
  }

  replay(): MetadataRecord[][] {
    const data = this.size > 0 ? fs.readFileSync(this.file) : Buffer.alloc(0);
    const out: MetadataRecord[][] = [];
    let pos = 0;
    while (pos + 8 <= data.length) {
      const len = data.readInt32BE(pos);
      if (len < 0 || len > MAX_FRAME || pos + 8 + len > data.length) break;
      const payload = data.subarray(pos + 8, pos + 8 + len);
      if ((crc32c(payload) >>> 0) !== data.readUInt32BE(pos + 4)) break;
      let batch: MetadataRecord[];
      try {
        batch = JSON.parse(payload.toString('utf8'));
      } catch {
        break;
      }
      out.push(batch);
      pos += 8 + len;
    }
    if (pos < data.length) {
      fs.ftruncateSync(this.fd, pos);
      fs.fsyncSync(this.fd);
      this.size = pos;
      this.onTruncate?.(data.length - pos);
    }
    return out;
  }

  async append(batch: MetadataRecord[]): Promise<void> {
    const payload = Buffer.from(JSON.stringify(batch), 'utf8');
    const frame = Buffer.allocUnsafe(8 + payload.length);
    frame.writeInt32BE(payload.length, 0);
    frame.writeUInt32BE(crc32c(payload) >>> 0, 4);
    payload.copy(frame, 8);
    fs.writeSync(this.fd, frame, 0, frame.length, this.size);
    this.size += frame.length;
    await new Promise<void>((resolve, reject) => fs.fdatasync(this.fd, (e) => (e ? reject(e) : resolve())));
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
