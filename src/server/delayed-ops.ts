/**
 * Delayed operations of one partition (Kafka's purgatory, for the one
 * condition produce needs): each waits until the partition's acknowledged
 * offset reaches the offset it needs, then completes with an error code
 * (NONE when acknowledged). The partition says when the condition may have
 * changed (`completeUpTo`); an operation is never polled.
 *
 * Operations are added in offset order (a leader's log end offset only
 * grows), so completion takes them from the front: no per-check allocation.
 */
import { invariant } from '../storage/errors.ts';

interface Waiting {
  offset: number;
  resolve: (errorCode: number) => void;
  reject: (err: unknown) => void;
}

export class DelayedOffsetOps {
  private queue: Waiting[] = [];
  private head = 0;

  /** Operations still waiting. */
  get size(): number {
    return this.queue.length - this.head;
  }

  /** The offset the last added operation waits for (-1 when none waits). */
  get lastOffset(): number {
    return this.size === 0 ? -1 : this.queue[this.queue.length - 1].offset;
  }

  /** An operation that completes once every offset below `offset` is acknowledged. */
  add(offset: number): Promise<number> {
    invariant(
      offset >= this.lastOffset,
      () => `delayed operation for offset ${offset} added after one for ${this.lastOffset}`,
    );
    return new Promise((resolve, reject) => {
      this.queue.push({ offset, resolve, reject });
    });
  }

  /** Completes, with `errorCode`, every operation waiting for an offset at or below `reached`. */
  completeUpTo(reached: number, errorCode: number): void {
    const q = this.queue;
    let i = this.head;
    while (i < q.length && q[i].offset <= reached) q[i++].resolve(errorCode);
    this.advance(i);
  }

  /** Completes every waiting operation with `errorCode` (the condition can no longer hold). */
  completeAll(errorCode: number): void {
    const q = this.queue;
    for (let i = this.head; i < q.length; i++) q[i].resolve(errorCode);
    this.advance(q.length);
  }

  /** Fails every waiting operation with `err` (a bug surfaced while waiting, not a Kafka error). */
  failAll(err: unknown): void {
    const q = this.queue;
    for (let i = this.head; i < q.length; i++) q[i].reject(err);
    this.advance(q.length);
  }

  private advance(to: number): void {
    if (to === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (to > 1024 && to * 2 > this.queue.length) {
      this.queue = this.queue.slice(to);
      this.head = 0;
    } else {
      this.head = to;
    }
  }
}
