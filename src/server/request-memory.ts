/**
 * What requests may hold across all connections of the broker, as Kafka's
 * network memory pool (`queued.max.request.bytes`) and request queue
 * (`queued.max.requests`) bound it:
 *
 * - bytes: a request frame takes its size from the pool when its buffer is
 *   allocated (size prefix and API key arrived) and gives it back once the
 *   request is answered. As in Kafka's pool, a frame is admitted while the
 *   pool is not yet full (used < capacity), so one frame larger than what is
 *   left still gets in and the pool goes over by at most one frame
 *   (`socket.request.max.bytes`); a frame larger than the whole pool is
 *   never starved. -1 is unbounded.
 * - requests: a request counts from the same moment until it is answered.
 *   Requests that wait by design for data or for other clients (Fetch long
 *   polls, JoinGroup, SyncGroup) do not count: Kafka parks those outside its
 *   queue as well, and counting them would let idle consumers stop the
 *   broker from reading anything else.
 *
 * A connection whose frame is refused stops reading (its bytes stay in the
 * kernel's socket buffers) and waits here; waiters are woken in arrival
 * order as requests are answered.
 */

/** Fetch, JoinGroup, SyncGroup: may wait long by design, not counted against queued.max.requests. */
const WAITING_APIS = new Set([1, 11, 14]);

export interface MemoryWaiter {
  /** Try again to read (called once per wait(), on a microtask). Returns whether the frame got in. */
  retry(): boolean;
}

export class RequestMemory {
  private usedBytes = 0;
  private requests = 0;
  private readonly waiters: MemoryWaiter[] = [];
  private readonly waiting = new Set<MemoryWaiter>();
  private wakeScheduled = false;

  /**
   * @param capacityBytes most bytes held by request frames (-1: unbounded)
   * @param maxRequests most requests read and not yet answered, Fetch/JoinGroup/SyncGroup excepted (-1: unbounded)
   */
  constructor(
    private capacityBytes: number,
    private maxRequests: number,
  ) {}

  get used(): number {
    return this.usedBytes;
  }

  get queuedRequests(): number {
    return this.requests;
  }

  get capacity(): number {
    return this.capacityBytes;
  }

  /** Connections waiting for room. */
  get waiterCount(): number {
    return this.waiters.length;
  }

  /** Takes room for a frame of `size` bytes of API `apiKey` (-1 when the frame is too short to have one). */
  tryAdmit(size: number, apiKey: number): boolean {
    if (this.capacityBytes >= 0 && this.usedBytes >= this.capacityBytes && size > 0) return false;
    const counted = !WAITING_APIS.has(apiKey);
    if (counted && this.maxRequests >= 0 && this.requests >= this.maxRequests) return false;
    this.usedBytes += size;
    if (counted) this.requests++;
    return true;
  }

  /** Gives back what tryAdmit took for a frame (answered, or abandoned with its connection). */
  release(size: number, apiKey: number): void {
    this.usedBytes -= size;
    if (!WAITING_APIS.has(apiKey)) this.requests--;
    if (this.waiters.length > 0 && !this.wakeScheduled) {
      this.wakeScheduled = true;
      queueMicrotask(this.wake);
    }
  }

  /** `w` retries once room is given back. */
  wait(w: MemoryWaiter): void {
    if (this.waiting.has(w)) return;
    this.waiting.add(w);
    this.waiters.push(w);
  }

  /** `w` no longer waits (its connection closed). */
  cancel(w: MemoryWaiter): void {
    if (!this.waiting.delete(w)) return;
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  private readonly wake = (): void => {
    this.wakeScheduled = false;
    // In arrival order, while they get in; the first that does not waits on at the head.
    while (this.waiters.length > 0) {
      const w = this.waiters[0];
      this.waiters.shift();
      this.waiting.delete(w);
      if (!w.retry()) {
        if (this.waiting.delete(w)) this.waiters.splice(this.waiters.indexOf(w), 1);
        this.waiting.add(w);
        this.waiters.unshift(w);
        return;
      }
    }
  };
}
