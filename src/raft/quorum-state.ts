/**
 * KIP-595's quorum-state file: the epoch, the vote cast in it and the leader
 * known for it, in `<metadata log dir>/__cluster_metadata-0/quorum-state`
 * (Kafka's file name and JSON field names). What Raft needs to survive a
 * restart besides the log: a node must never vote twice in one epoch nor go
 * back to an older epoch.
 *
 * Every write replaces the file atomically and durably (temp file, fsync,
 * rename, fsync of the directory: `replaceFile`) before it returns, so the
 * core may answer a vote as soon as `write` returns; a failed write throws
 * and the vote is not answered. A file that cannot be read back as a quorum
 * state stops the node at startup instead of being taken for an empty one
 * (which could let it vote a second time in an epoch).
 */
import fs from 'node:fs';
import path from 'node:path';
import { replaceFile } from '../storage/file-io.ts';
import type { QuorumState, QuorumStateStore } from './types.ts';

export const QUORUM_STATE_FILE = 'quorum-state';
/** The version of the JSON written here (Kafka's `data_version` field). */
const DATA_VERSION = 0;

export class FileQuorumStateStore implements QuorumStateStore {
  readonly file: string;
  private cached: QuorumState | null | undefined;

  /** `partitionDir`: the metadata partition's directory (`__cluster_metadata-0`). */
  constructor(partitionDir: string) {
    this.file = path.join(partitionDir, QUORUM_STATE_FILE);
  }

  read(): QuorumState | null {
    if (this.cached !== undefined) return this.cached && { ...this.cached };
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.cached = null;
        return null;
      }
      throw err;
    }
    this.cached = parseQuorumState(text, this.file);
    return { ...this.cached };
  }

  write(state: QuorumState): void {
    const s = { epoch: state.epoch, votedId: state.votedId, leaderId: state.leaderId };
    for (const [k, v] of Object.entries(s))
      if (!Number.isSafeInteger(v) || v < -1) throw new RangeError(`quorum state: ${k} ${v} is not valid`);
    replaceFile(
      this.file,
      `${JSON.stringify({ leaderId: s.leaderId, leaderEpoch: s.epoch, votedId: s.votedId, data_version: DATA_VERSION })}\n`,
    );
    this.cached = s;
  }
}

function parseQuorumState(text: string, file: string): QuorumState {
  const bad = (why: string) =>
    new Error(`${file}: ${why}; remove the file only if this node's vote in its last epoch may be forgotten`);
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw bad('not a quorum state (not JSON)');
  }
  if (typeof o !== 'object' || o === null) throw bad('not a quorum state');
  const r = o as Record<string, unknown>;
  if (r.data_version !== undefined && r.data_version !== DATA_VERSION)
    throw bad(`data_version ${String(r.data_version)} is not supported`);
  const field = (k: string): number => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < -1) throw bad(`field ${k} is missing or invalid`);
    return v;
  };
  return { epoch: field('leaderEpoch'), votedId: field('votedId'), leaderId: field('leaderId') };
}
