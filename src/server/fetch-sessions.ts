/**
 * Incremental fetch sessions (KIP-227). A client that opens a session sends
 * only the partitions that changed since its last fetch; the broker remembers
 * the rest and answers only partitions with news (records, a moved high
 * watermark / log start offset, or an error).
 *
 * Session id / epoch rules: (0, -1) sessionless full fetch; (0, 0) open a new
 * session; (id, -1) close it; (id, 0) close it and open a new one; (id, n>0)
 * an incremental fetch whose epoch must be the one expected next.
 */
import { ErrorCode } from '../protocol/error-codes.ts';

export interface SessionPartition {
  topic: string;
  topicId: string;
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
  logStartOffset: number;
  /** What the client last heard, to decide whether to include the partition. */
  lastHighWatermark: number;
  lastLogStartOffset: number;
}

export interface FetchSession {
  id: number;
  nextEpoch: number;
  partitions: Map<string, SessionPartition>;
  lastUsed: number;
}

export function partitionKey(topicOrId: string, partition: number): string {
  return `${topicOrId}\u0000${partition}`;
}

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();
  private nextId = 1 + Math.floor(Math.random() * 1000);

  constructor(private readonly maxSessions = 1000) {}

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Resolves the session a request refers to. Returns an error code, or the
   * session (undefined for a sessionless fetch) and whether the fetch is full.
   */
  resolve(
    sessionId: number,
    epoch: number,
    now: number,
  ): { errorCode: number } | { session: FetchSession | undefined; full: boolean } {
    if (sessionId === 0) {
      if (epoch === -1) return { session: undefined, full: true };
      if (epoch === 0) return { session: this.create(now), full: true };
      return { errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
    }
    const s = this.sessions.get(sessionId);
    if (epoch === -1) {
      this.sessions.delete(sessionId);
      return { session: undefined, full: true };
    }
    if (epoch === 0) {
      this.sessions.delete(sessionId);
      return { session: this.create(now), full: true };
    }
    if (!s) return { errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND };
    if (s.nextEpoch !== epoch) return { errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
    s.nextEpoch = epoch === 0x7fffffff ? 1 : epoch + 1;
    s.lastUsed = now;
    return { session: s, full: false };
  }

  private create(now: number): FetchSession | undefined {
    if (this.sessions.size >= this.maxSessions) {
      // Evict the least recently used session; its client will start over.
      let oldest: FetchSession | undefined;
      for (const s of this.sessions.values()) if (!oldest || s.lastUsed < oldest.lastUsed) oldest = s;
      if (oldest) this.sessions.delete(oldest.id);
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7ffffffe ? 1 : this.nextId + 1;
    const s: FetchSession = { id, nextEpoch: 1, partitions: new Map(), lastUsed: now };
    this.sessions.set(id, s);
    return s;
  }
}
