/**
 * For the tests of the metadata log's durability rules driven by the
 * controller (torn tails, write and fsync faults, snapshots, restarts): a
 * quorum of one voter without network directly over a FileMetadataLog, whose
 * options (onTruncate, onBroken, ...) the test sets. This node leads from the
 * moment its local replay is delivered, and a batch is committed once it is
 * fsynced (FileMetadataLog.append). The broker itself runs a one-voter
 * RaftNode (src/raft/node.ts), which keeps the same rules; it is tested in
 * test/unit/raft and by every broker test.
 */
import type { FileMetadataLog, MetadataBatch } from '../../src/metadata/metadata-log.ts';
import { type MetadataQuorum, NotControllerError, type QuorumListener } from '../../src/metadata/quorum.ts';
import type { MetadataRecord } from '../../src/metadata/records.ts';

export class FileLogQuorum implements MetadataQuorum {
  private listener: QuorumListener | null = null;
  private started = false;
  private closed = false;
  /** Deliveries in log order: each waits for the one before. */
  private delivery: Promise<unknown> = Promise.resolve();
  private delivered = 0;
  private _clusterId: string | null;

  constructor(
    readonly log: FileMetadataLog,
    readonly nodeId: number,
    clusterId: string | null = null,
  ) {
    this._clusterId = clusterId;
  }

  get leaderId(): number {
    return this.started && !this.closed ? this.nodeId : -1;
  }

  get epoch(): number {
    return this.log.leaderEpoch;
  }

  get isActiveController(): boolean {
    return this.started && !this.closed;
  }

  get committedOffset(): number {
    return this.delivered;
  }

  get clusterId(): string | null {
    return this._clusterId;
  }

  setClusterId(clusterId: string): void {
    this._clusterId = clusterId;
  }

  get bytesSinceSnapshot(): number {
    return this.log.bytesSinceSnapshot;
  }

  setListener(l: QuorumListener): void {
    if (this.listener) throw new Error('the quorum has a listener already');
    this.listener = l;
  }

  private get target(): QuorumListener {
    if (!this.listener) throw new Error('the quorum has no listener (setListener before start)');
    return this.listener;
  }

  async start(): Promise<void> {
    const l = this.target;
    const { snapshot, batches } = this.log.load();
    if (snapshot) {
      await l.onSnapshot(snapshot);
      this.delivered = snapshot.endOffset;
    }
    for (const b of batches) {
      await l.onCommitted(b);
      this.delivered = b.lastOffset + 1;
    }
    this.delivered = Math.max(this.delivered, this.log.committedOffset);
    this.started = true;
    l.onLeaderChange(this.nodeId, this.epoch);
  }

  async append(records: MetadataRecord[]): Promise<MetadataBatch> {
    if (!this.isActiveController)
      throw new NotControllerError(
        this.closed ? 'the metadata quorum is closed' : 'the metadata quorum has not started',
        -1,
      );
    const batch = await this.log.append(records);
    const l = this.target;
    const delivered = this.delivery.then(async () => {
      await l.onCommitted(batch);
      this.delivered = batch.lastOffset + 1;
    });
    this.delivery = delivered.catch(() => undefined);
    await delivered;
    return batch;
  }

  writeSnapshot(endOffset: number, records: MetadataRecord[]): Promise<void> {
    return this.log.writeSnapshot(endOffset, records);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.delivery;
    await this.log.close();
  }
}
