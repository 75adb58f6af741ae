/**
 * A metadata quorum in memory, for tests of what sits on it (the controller):
 * an append commits at once and is delivered to the listener before it
 * resolves, as a quorum does once a majority has it. The test decides whether
 * this node is the active controller (`setActive`), and can deliver batches
 * and snapshots committed by "another leader" (`deliver`, `installSnapshot`).
 */
import type { MetadataBatch, MetadataSnapshot } from '../../src/metadata/metadata-log.ts';
import { type MetadataQuorum, NotControllerError, type QuorumListener } from '../../src/metadata/quorum.ts';
import type { MetadataRecord } from '../../src/metadata/records.ts';

export class MemoryQuorum implements MetadataQuorum {
  readonly batches: MetadataBatch[] = [];
  readonly snapshots: { endOffset: number; records: MetadataRecord[] }[] = [];
  leaderId: number;
  epoch = 1;
  clusterId: string | null = null;
  bytesSinceSnapshot = 0;
  private next = 0;
  private active: boolean;
  private listener: QuorumListener | null = null;
  /** Set to make the next append fail as a leader that lost its leadership before the commit would. */
  loseLeadershipOnAppend = false;

  constructor(
    readonly nodeId = 0,
    opts: { active?: boolean } = {},
  ) {
    this.active = opts.active ?? true;
    this.leaderId = this.active ? nodeId : -1;
  }

  get isActiveController(): boolean {
    return this.active;
  }

  get committedOffset(): number {
    return this.next;
  }

  setListener(l: QuorumListener): void {
    this.listener = l;
  }

  async start(): Promise<void> {
    if (this.active) this.listener?.onLeaderChange(this.nodeId, this.epoch);
  }

  /** This node becomes (or stops being) the active controller; `leaderId` is the new leader. */
  setActive(active: boolean, leaderId = active ? this.nodeId : -1): void {
    this.active = active;
    this.leaderId = leaderId;
    this.epoch++;
    this.listener?.onLeaderChange(leaderId, this.epoch);
  }

  async append(records: MetadataRecord[]): Promise<MetadataBatch> {
    if (!this.active) throw new NotControllerError('not the active controller', this.leaderId);
    if (this.loseLeadershipOnAppend) {
      this.loseLeadershipOnAppend = false;
      this.setActive(false, -1);
      throw new NotControllerError('leadership lost before the commit', -1);
    }
    return this.deliver(records);
  }

  /** Commits and delivers a batch (as if this node, or another leader, had appended it). */
  async deliver(records: MetadataRecord[]): Promise<MetadataBatch> {
    const b: MetadataBatch = {
      baseOffset: this.next,
      lastOffset: this.next + records.length - 1,
      leaderEpoch: this.epoch,
      records,
    };
    this.next += records.length;
    this.bytesSinceSnapshot += JSON.stringify(records).length;
    this.batches.push(b);
    await this.listener?.onCommitted(b);
    return b;
  }

  /** Delivers a snapshot installed from the leader (a lagging node). */
  async installSnapshot(snapshot: MetadataSnapshot): Promise<void> {
    this.next = snapshot.endOffset;
    await this.listener?.onSnapshot(snapshot);
  }

  async writeSnapshot(endOffset: number, records: MetadataRecord[]): Promise<void> {
    this.snapshots.push({ endOffset, records });
    this.bytesSinceSnapshot = 0;
  }

  async close(): Promise<void> {}

  /** The record types appended, in order. */
  types(): string[] {
    return this.batches.flatMap((b) => b.records.map((r) => r.type));
  }
}
