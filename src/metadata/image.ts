/**
 * The in-memory metadata image: the fold of the metadata log (a snapshot,
 * then the committed batches after it). Read by every request handler;
 * changed only by `applyBatch` with committed records from the log.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { AccessControlEntryRecord, MetadataRecord, PartitionChangeRecord } from './records.ts';

/** Numbers the ACL changes of every image in the process, so a new ACL set never repeats an old version. */
let aclChanges = 0;

export interface PartitionState {
  partition: number;
  leader: number;
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: number[];
  isr: number[];
  /**
   * A reassignment in progress (KIP-455; src/metadata/reassignment.ts):
   * replicas that join (already in `replicas`, fetching) and replicas that
   * leave `replicas` and the ISR once every target replica is in the ISR.
   * Absent when no reassignment is in progress.
   */
  addingReplicas?: number[];
  removingReplicas?: number[];
}

export interface TopicState {
  name: string;
  topicId: string;
  partitions: PartitionState[];
  /** Topic-level config overrides (DYNAMIC_TOPIC_CONFIG). */
  configs: Map<string, string>;
}

/** A user's SCRAM credential for one mechanism. */
export interface ScramCredentialState {
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
  iterations: number;
}

export interface BrokerState {
  nodeId: number;
  incarnationId: string;
  listeners: { name: string; host: string; port: number }[];
  rack: string | null;
  /** The offset of its registration record: KIP-631's broker epoch, new with every registration. */
  brokerEpoch: number;
  /** Registered but not live: not caught up yet, heartbeats stopped, connection lost or shut down. */
  fenced: boolean;
  /** Handing its leaderships over before it stops (controlled shutdown). */
  inControlledShutdown: boolean;
}

/**
 * Whether a partition of topic `t` that no in-sync replica can lead may elect
 * a live replica outside its ISR (unclean.leader.election.enable, as the
 * active controller resolves it for the topic).
 */
export type UncleanElectionPolicy = (t: TopicState) => boolean;

export class MetadataImage {
  readonly topicsByName = new Map<string, TopicState>();
  readonly topicsById = new Map<string, TopicState>();
  readonly brokers = new Map<number, BrokerState>();
  /** Dynamic broker configs: key '' is the cluster-wide default, else the node id. */
  readonly brokerConfigs = new Map<string, Map<string, string>>();
  /** SCRAM credentials: user name -> mechanism type (1, 2) -> credential (UserScramCredential records). */
  readonly scramCredentials = new Map<string, Map<number, ScramCredentialState>>();
  /** First producer id not yet handed out in a block. */
  nextProducerId = 0;
  /** Client quotas by entity (key: clientQuotaEntityKey), each with its values by quota name. */
  readonly clientQuotas = new Map<string, ClientQuotaEntry>();
  /** The cluster id (the first ClusterId record), or null while the log has none. */
  clusterId: string | null = null;
  /**
   * The metadata offset: the offset of the last record applied (-1 before
   * any), what KRaft calls the metadata offset. Only grows: caches key on it.
   */
  epoch = -1;
  /** The ACLs by id (AccessControlEntryRecord). */
  readonly acls = new Map<string, AccessControlEntryRecord>();
  /** Changes whenever an ACL is added or removed (the authorizer rebuilds its index then). */
  aclVersion = 0;
  /** Partition replicas by broker id, kept as records apply (the partition cap is checked against it). */
  private readonly replicaCounts = new Map<number, number>();

  /** Topics in the cluster. */
  get topicCount(): number {
    return this.topicsByName.size;
  }

  /** Partition replicas placed on broker `nodeId`. */
  partitionsOn(nodeId: number): number {
    return this.replicaCounts.get(nodeId) ?? 0;
  }

  private countReplicas(replicas: readonly number[], delta: number): void {
    for (const id of replicas) {
      const n = (this.replicaCounts.get(id) ?? 0) + delta;
      if (n === 0) this.replicaCounts.delete(id);
      else this.replicaCounts.set(id, n);
    }
  }

  /** Applies one record; `offset` is where it sits in the log (a registration's broker epoch unless it says). */
  apply(rec: MetadataRecord, offset = -1): void {
    switch (rec.type) {
      case 'RegisterBroker':
        this.brokers.set(rec.nodeId, {
          nodeId: rec.nodeId,
          incarnationId: rec.incarnationId,
          listeners: rec.listeners,
          rack: rec.rack,
          brokerEpoch: rec.brokerEpoch ?? offset,
          fenced: rec.fenced ?? false,
          inControlledShutdown: rec.inControlledShutdown ?? false,
        });
        break;
      case 'ClusterId':
        this.clusterId ??= rec.clusterId;
        break;
      case 'FenceBroker':
      case 'UnfenceBroker':
      case 'BrokerRegistrationChange': {
        const b = this.brokers.get(rec.nodeId);
        if (!b || b.brokerEpoch !== rec.brokerEpoch) break; // about an earlier registration: moot
        const fenced = rec.type === 'FenceBroker' ? true : rec.type === 'UnfenceBroker' ? false : rec.fenced;
        if (fenced !== undefined) b.fenced = fenced;
        if (rec.type === 'BrokerRegistrationChange' && rec.inControlledShutdown !== undefined)
          b.inControlledShutdown = rec.inControlledShutdown;
        if (b.fenced) b.inControlledShutdown = false; // a fenced broker has stopped, or never started, shutting down
        break;
      }
      case 'UnregisterBroker': {
        const b = this.brokers.get(rec.nodeId);
        if (b && b.brokerEpoch === rec.brokerEpoch) this.brokers.delete(rec.nodeId);
        break;
      }
      case 'Topic': {
        // the same topic again (a snapshot applied over this image) keeps its object, which the broker holds
        if (this.topicsById.get(rec.topicId)?.name === rec.name) break;
        const t: TopicState = { name: rec.name, topicId: rec.topicId, partitions: [], configs: new Map() };
        this.topicsByName.set(rec.name, t);
        this.topicsById.set(rec.topicId, t);
        break;
      }
      case 'Partition': {
        const t = this.topicsById.get(rec.topicId);
        if (!t) throw new Error(`metadata: PartitionRecord for unknown topic id ${rec.topicId}`);
        const old = t.partitions[rec.partition];
        if (old) this.countReplicas(old.replicas, -1);
        this.countReplicas(rec.replicas, 1);
        t.partitions[rec.partition] = {
          partition: rec.partition,
          leader: rec.leader,
          leaderEpoch: rec.leaderEpoch,
          partitionEpoch: rec.partitionEpoch,
          replicas: rec.replicas,
          isr: rec.isr,
          ...(rec.addingReplicas?.length ? { addingReplicas: rec.addingReplicas } : {}),
          ...(rec.removingReplicas?.length ? { removingReplicas: rec.removingReplicas } : {}),
        };
        break;
      }
      case 'PartitionChange': {
        const p = this.topicsById.get(rec.topicId)?.partitions[rec.partition];
        if (!p)
          throw new Error(`metadata: PartitionChangeRecord for unknown partition ${rec.topicId}-${rec.partition}`);
        if (rec.leader !== undefined && rec.leader !== p.leader) {
          p.leader = rec.leader;
          p.leaderEpoch++;
        }
        if (rec.isr) p.isr = rec.isr;
        if (rec.replicas) {
          this.countReplicas(p.replicas, -1);
          this.countReplicas(rec.replicas, 1);
          p.replicas = rec.replicas;
        }
        if (rec.addingReplicas) setReassigning(p, 'addingReplicas', rec.addingReplicas);
        if (rec.removingReplicas) setReassigning(p, 'removingReplicas', rec.removingReplicas);
        p.partitionEpoch++;
        break;
      }
      case 'Config': {
        let target: Map<string, string> | undefined;
        if (rec.resourceType === 'topic') {
          target = this.topicsByName.get(rec.resourceName)?.configs;
        } else {
          target = this.brokerConfigs.get(rec.resourceName);
          if (!target) this.brokerConfigs.set(rec.resourceName, (target = new Map()));
        }
        if (!target) break; // config for a topic deleted later in the same batch
        if (rec.value === null) target.delete(rec.name);
        else target.set(rec.name, rec.value);
        break;
      }
      case 'ProducerIds':
        this.nextProducerId = rec.nextProducerId;
        break;
      case 'ClientQuota': {
        const key = clientQuotaEntityKey(rec.entity);
        let e = this.clientQuotas.get(key);
        if (rec.remove) {
          e?.values.delete(rec.key);
          if (e && e.values.size === 0) this.clientQuotas.delete(key);
        } else {
          if (!e) this.clientQuotas.set(key, (e = { entity: rec.entity, values: new Map() }));
          e.values.set(rec.key, rec.value);
        }
        break;
      }
      case 'AccessControlEntry':
        this.acls.set(rec.id, rec);
        this.aclVersion = ++aclChanges;
        break;
      case 'RemoveAccessControlEntry':
        if (this.acls.delete(rec.id)) this.aclVersion = ++aclChanges;
        break;
      case 'UserScramCredential': {
        let byMech = this.scramCredentials.get(rec.name);
        if (!byMech) this.scramCredentials.set(rec.name, (byMech = new Map()));
        byMech.set(rec.mechanism, {
          salt: Buffer.from(rec.salt, 'base64'),
          storedKey: Buffer.from(rec.storedKey, 'base64'),
          serverKey: Buffer.from(rec.serverKey, 'base64'),
          iterations: rec.iterations,
        });
        break;
      }
      case 'RemoveUserScramCredential': {
        const byMech = this.scramCredentials.get(rec.name);
        byMech?.delete(rec.mechanism);
        if (byMech?.size === 0) this.scramCredentials.delete(rec.name);
        break;
      }
      case 'RemoveTopic': {
        const t = this.topicsById.get(rec.topicId);
        if (t) {
          for (const p of t.partitions) if (p) this.countReplicas(p.replicas, -1);
          this.topicsById.delete(rec.topicId);
          this.topicsByName.delete(t.name);
        }
        break;
      }
    }
  }

  /**
   * Applies one committed batch whose last record is at `lastOffset`. Call
   * `check` first: a batch it accepts applies whole.
   */
  applyBatch(batch: MetadataRecord[], lastOffset: number): void {
    const base = lastOffset - batch.length + 1;
    for (let i = 0; i < batch.length; i++) this.apply(batch[i], base + i);
    this.epoch = lastOffset;
  }

  /** Registered and not fenced. */
  isLive(nodeId: number): boolean {
    const b = this.brokers.get(nodeId);
    return b !== undefined && !b.fenced;
  }

  /** Live and not in controlled shutdown: may be elected leader of a partition. */
  canLead(nodeId: number): boolean {
    const b = this.brokers.get(nodeId);
    return b !== undefined && !b.fenced && !b.inControlledShutdown;
  }

  /** The live (unfenced) brokers, by node id: the ones clients are told about and replicas are placed on. */
  liveBrokers(): BrokerState[] {
    const out: BrokerState[] = [];
    for (const b of this.brokers.values()) if (!b.fenced) out.push(b);
    return out.sort((a, b) => a.nodeId - b.nodeId);
  }

  /**
   * The PartitionChange records that take broker `nodeId` out of every ISR it
   * is in and move its leaderships to the first replica (in replica order) of
   * the remaining ISR that can lead (live, not shutting down).
   *
   * - `fence`: the broker is being fenced. Where it is the last ISR member
   *   the ISR stays as it is (as in Kafka without eligible leader replicas:
   *   an ISR never empties, so the last in-sync copy stays known) and the
   *   partition has no leader (-1) until an ISR member is live again.
   * - `shutdown`: controlled shutdown. A partition whose leadership no other
   *   ISR member can take is left alone: the broker keeps leading it until
   *   it stops (it is fenced then).
   *
   * With `unclean` (fence only), a partition left without a leader whose
   * topic allows unclean election gets the first live replica outside the
   * ISR (in replica order) as leader, with the ISR reset to just it.
   *
   * Every leader change bumps the leader epoch when applied; every record
   * bumps the partition epoch.
   */
  partitionChangesWithout(
    nodeId: number,
    mode: 'fence' | 'shutdown',
    unclean?: UncleanElectionPolicy,
  ): PartitionChangeRecord[] {
    const out: PartitionChangeRecord[] = [];
    const electable = (id: number) => id !== nodeId && this.canLead(id);
    for (const t of this.topicsById.values()) {
      for (const p of t.partitions) {
        if (!p?.isr.includes(nodeId)) continue;
        const isr = p.isr.filter((id) => id !== nodeId);
        const leader = electLeader(p, isr, electable);
        if (mode === 'shutdown' && (isr.length === 0 || (p.leader === nodeId && leader === -1))) continue;
        const rec: PartitionChangeRecord = { type: 'PartitionChange', topicId: t.topicId, partition: p.partition };
        if (isr.length > 0) rec.isr = isr;
        if (leader !== p.leader) rec.leader = leader;
        if (leader === -1 && mode === 'fence' && unclean?.(t)) {
          const other = electUnclean(p, electable);
          if (other !== -1) {
            rec.leader = other;
            rec.isr = [other];
          }
        }
        if (rec.isr !== undefined || rec.leader !== undefined) out.push(rec);
      }
    }
    return out;
  }

  /**
   * PartitionChange records that give every leaderless partition a leader
   * from its ISR, the first replica (in replica order) that can lead or is
   * `joining` (a broker about to be unfenced, -1 for none): what follows an
   * unfence. With `unclean`, a partition of a topic that allows it and whose
   * ISR has no such replica gets the first one outside the ISR, with the
   * ISR reset to just it.
   */
  partitionChangesElectingLeaderless(joining: number, unclean?: UncleanElectionPolicy): PartitionChangeRecord[] {
    const out: PartitionChangeRecord[] = [];
    const electable = (id: number) => (joining >= 0 && id === joining) || this.canLead(id);
    for (const t of this.topicsById.values()) {
      for (const p of t.partitions) {
        if (!p || p.leader !== -1) continue;
        const leader = electLeader(p, p.isr, electable);
        if (leader !== -1) out.push({ type: 'PartitionChange', topicId: t.topicId, partition: p.partition, leader });
        else if (unclean?.(t)) {
          const other = electUnclean(p, electable);
          if (other !== -1)
            out.push({
              type: 'PartitionChange',
              topicId: t.topicId,
              partition: p.partition,
              leader: other,
              isr: [other],
            });
        }
      }
    }
    return out;
  }

  /**
   * ElectLeaders PREFERRED for one partition: the record that makes its
   * preferred replica (the first in replica order) the leader, or the error
   * code why not: ELECTION_NOT_NEEDED when it leads already,
   * PREFERRED_LEADER_NOT_AVAILABLE when it is not in the ISR or cannot lead.
   */
  preferredLeaderChange(t: TopicState, p: PartitionState): PartitionChangeRecord | number {
    const preferred = p.replicas[0];
    if (preferred === undefined) return ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE;
    if (p.leader === preferred) return ErrorCode.ELECTION_NOT_NEEDED;
    if (!p.isr.includes(preferred) || !this.canLead(preferred)) return ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE;
    return { type: 'PartitionChange', topicId: t.topicId, partition: p.partition, leader: preferred };
  }

  /**
   * ElectLeaders UNCLEAN for one partition: a partition that has a leader
   * needs none (ELECTION_NOT_NEEDED); else an ISR member that can lead is
   * elected as on unfence, else the first replica outside the ISR that can,
   * with the ISR reset to just it; ELIGIBLE_LEADERS_NOT_AVAILABLE when no
   * replica can lead.
   */
  uncleanLeaderChange(t: TopicState, p: PartitionState): PartitionChangeRecord | number {
    if (p.leader !== -1) return ErrorCode.ELECTION_NOT_NEEDED;
    const electable = (id: number) => this.canLead(id);
    const clean = electLeader(p, p.isr, electable);
    if (clean !== -1) return { type: 'PartitionChange', topicId: t.topicId, partition: p.partition, leader: clean };
    const other = electUnclean(p, electable);
    if (other === -1) return ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE;
    return { type: 'PartitionChange', topicId: t.topicId, partition: p.partition, leader: other, isr: [other] };
  }

  /**
   * Automatic leader balancing (auto.leader.rebalance.enable), as Kafka's
   * controller decides it: for each broker, the share of the partitions it
   * is the preferred replica of that another broker leads; where that share
   * is above `imbalancePercentage` (leader.imbalance.per.broker.percentage),
   * each of those partitions whose preferred replica is in its ISR and can
   * lead moves its leadership back to it; at most `limit` of them.
   */
  preferredLeaderRebalance(imbalancePercentage: number, limit = Number.POSITIVE_INFINITY): PartitionChangeRecord[] {
    const preferredOf = new Map<number, { total: number; off: { t: TopicState; p: PartitionState }[] }>();
    for (const t of this.topicsById.values()) {
      for (const p of t.partitions) {
        const preferred = p?.replicas[0];
        if (preferred === undefined) continue;
        let e = preferredOf.get(preferred);
        if (!e) preferredOf.set(preferred, (e = { total: 0, off: [] }));
        e.total++;
        if (p.leader !== preferred) e.off.push({ t, p });
      }
    }
    const out: PartitionChangeRecord[] = [];
    for (const [id, e] of preferredOf) {
      if (e.off.length === 0 || (e.off.length * 100) / e.total <= imbalancePercentage || !this.canLead(id)) continue;
      for (const { t, p } of e.off) {
        if (out.length >= limit) return out;
        const rec = this.preferredLeaderChange(t, p);
        if (typeof rec !== 'number') out.push(rec);
      }
    }
    return out;
  }

  /**
   * The leader changes in `batch` that elect a replica outside the
   * partition's ISR in this image (unclean elections), for the log.
   */
  uncleanElectionsIn(
    batch: readonly MetadataRecord[],
  ): { topic: string; partition: number; leader: number; isr: number[] }[] {
    const out: { topic: string; partition: number; leader: number; isr: number[] }[] = [];
    for (const r of batch) {
      if (r.type !== 'PartitionChange' || r.leader === undefined || r.leader < 0) continue;
      const t = this.topicsById.get(r.topicId);
      const p = t?.partitions[r.partition];
      if (t && p && !p.isr.includes(r.leader))
        out.push({ topic: t.name, partition: r.partition, leader: r.leader, isr: [...p.isr] });
    }
    return out;
  }

  /**
   * Replaces the content of this image with a snapshot's (a node that
   * installed a snapshot from the quorum leader), in place: topics that are in
   * both (same id and name) keep their TopicState object, which the broker's
   * partitions hold. Returns the records for listeners, as if they were one
   * committed batch: a RemoveTopic for each topic the snapshot does not have,
   * then the snapshot's records.
   */
  replaceWith(records: MetadataRecord[], lastOffset: number): MetadataRecord[] {
    const fresh = new MetadataImage();
    fresh.applyBatch(records, lastOffset);
    const removed: MetadataRecord[] = [];
    for (const t of this.topicsById.values())
      if (fresh.topicsById.get(t.topicId)?.name !== t.name) removed.push({ type: 'RemoveTopic', topicId: t.topicId });
    for (const r of removed) this.apply(r);
    // Everything but the topics is copied over as it is in the fresh image (whatever fields it has).
    const self = this as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(fresh)) {
      if (key === 'topicsByName' || key === 'topicsById') continue;
      const mine = self[key];
      if (mine instanceof Map && value instanceof Map) {
        mine.clear();
        for (const [k, v] of value) mine.set(k, v);
      } else if (mine instanceof Set && value instanceof Set) {
        mine.clear();
        for (const v of value) mine.add(v);
      } else {
        self[key] = value;
      }
    }
    const kept = new Map(this.topicsById);
    this.topicsById.clear();
    this.topicsByName.clear();
    for (const t of fresh.topicsById.values()) {
      const old = kept.get(t.topicId);
      let target = t;
      if (old) {
        old.partitions.length = 0;
        for (const p of t.partitions) old.partitions.push(p);
        old.configs.clear();
        for (const [k, v] of t.configs) old.configs.set(k, v);
        target = old;
      }
      this.topicsById.set(target.topicId, target);
      this.topicsByName.set(target.name, target);
    }
    return [...removed, ...records];
  }

  /**
   * Why `batch` would not apply to this image (a record naming a topic or
   * partition that neither the image nor an earlier record of the batch has),
   * or null. Run before the batch is written, so that a committed batch never
   * stops half applied.
   */
  check(batch: readonly MetadataRecord[]): string | null {
    const added = new Set<string>();
    const removed = new Set<string>();
    const parts = new Set<string>();
    const known = (id: string) => !removed.has(id) && (added.has(id) || this.topicsById.has(id));
    for (const r of batch) {
      switch (r.type) {
        case 'Topic':
          added.add(r.topicId);
          removed.delete(r.topicId);
          break;
        case 'RemoveTopic':
          removed.add(r.topicId);
          break;
        case 'Partition':
          if (!known(r.topicId)) return `PartitionRecord for unknown topic id ${r.topicId}`;
          parts.add(`${r.topicId}:${r.partition}`);
          break;
        case 'PartitionChange':
          if (
            !known(r.topicId) ||
            !(parts.has(`${r.topicId}:${r.partition}`) || this.topicsById.get(r.topicId)?.partitions[r.partition])
          ) {
            return `PartitionChangeRecord for unknown partition ${r.topicId}-${r.partition}`;
          }
          break;
      }
    }
    return null;
  }

  /**
   * The image as records which, applied in order to an empty image, give this
   * image (the content of a snapshot). Partition records keep their leader
   * and partition epochs.
   */
  toRecords(): MetadataRecord[] {
    const out: MetadataRecord[] = [];
    if (this.clusterId !== null) out.push({ type: 'ClusterId', clusterId: this.clusterId });
    for (const b of this.brokers.values()) {
      out.push({
        type: 'RegisterBroker',
        nodeId: b.nodeId,
        incarnationId: b.incarnationId,
        listeners: b.listeners,
        rack: b.rack,
        brokerEpoch: b.brokerEpoch,
        fenced: b.fenced,
        inControlledShutdown: b.inControlledShutdown,
      });
    }
    for (const [resourceName, configs] of this.brokerConfigs) {
      for (const [name, value] of configs)
        out.push({ type: 'Config', resourceType: 'broker', resourceName, name, value });
    }
    out.push({ type: 'ProducerIds', nextProducerId: this.nextProducerId });
    for (const e of this.clientQuotas.values())
      for (const [key, value] of e.values)
        out.push({ type: 'ClientQuota', entity: e.entity, key, value, remove: false });
    for (const a of this.acls.values()) out.push(a);
    for (const [name, byMech] of this.scramCredentials) {
      for (const [mechanism, c] of byMech)
        out.push({
          type: 'UserScramCredential',
          name,
          mechanism,
          salt: c.salt.toString('base64'),
          storedKey: c.storedKey.toString('base64'),
          serverKey: c.serverKey.toString('base64'),
          iterations: c.iterations,
        });
    }
    for (const t of this.topicsByName.values()) {
      out.push({ type: 'Topic', name: t.name, topicId: t.topicId });
      for (const p of t.partitions) {
        if (!p) continue;
        out.push({
          type: 'Partition',
          topicId: t.topicId,
          partition: p.partition,
          replicas: p.replicas,
          isr: p.isr,
          leader: p.leader,
          leaderEpoch: p.leaderEpoch,
          partitionEpoch: p.partitionEpoch,
          ...(p.addingReplicas?.length ? { addingReplicas: p.addingReplicas } : {}),
          ...(p.removingReplicas?.length ? { removingReplicas: p.removingReplicas } : {}),
        });
      }
      for (const [name, value] of t.configs)
        out.push({ type: 'Config', resourceType: 'topic', resourceName: t.name, name, value });
    }
    return out;
  }
}

/** One client quota entity and its quotas. */
export interface ClientQuotaEntry {
  entity: { entityType: string; entityName: string | null }[];
  values: Map<string, number>;
}

/**
 * The image's key of a quota entity: its pairs by type, a default entity
 * (null name) told apart from every name.
 */
export function clientQuotaEntityKey(entity: readonly { entityType: string; entityName: string | null }[]): string {
  return entity
    .map((e) => `${e.entityType}${e.entityName === null ? '!' : `=${e.entityName}`}`)
    .sort()
    .join('\u0000');
}

/** Sets one side of a partition's reassignment; an empty list removes the field. */
function setReassigning(p: PartitionState, key: 'addingReplicas' | 'removingReplicas', ids: number[]): void {
  if (ids.length > 0) p[key] = ids;
  else delete p[key];
}

/**
 * A partition's leader for the ISR `isr`: the current one while it is in
 * `isr` and electable, else the first replica in replica order that is, else -1.
 */
function electLeader(p: PartitionState, isr: readonly number[], electable: (id: number) => boolean): number {
  if (p.leader !== -1 && isr.includes(p.leader) && electable(p.leader)) return p.leader;
  for (const id of p.replicas) if (isr.includes(id) && electable(id)) return id;
  return -1;
}

/** The first replica in replica order outside the ISR that is electable (an unclean election), else -1. */
function electUnclean(p: PartitionState, electable: (id: number) => boolean): number {
  for (const id of p.replicas) if (!p.isr.includes(id) && electable(id)) return id;
  return -1;
}
