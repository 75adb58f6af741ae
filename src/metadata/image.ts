/**
 * The in-memory metadata image: the fold of the metadata log. Read by every
 * request handler; changed only by `apply` with records from the log.
 */
import type { MetadataRecord } from './records.ts';

export interface PartitionState {
  partition: number;
  leader: number;
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface TopicState {
  name: string;
  topicId: string;
  partitions: PartitionState[];
  /** Topic-level config overrides (DYNAMIC_TOPIC_CONFIG). */
  configs: Map<string, string>;
}

export interface BrokerState {
  nodeId: number;
  listeners: { name: string; host: string; port: number }[];
  rack: string | null;
}

export class MetadataImage {
  readonly topicsByName = new Map<string, TopicState>();
  readonly topicsById = new Map<string, TopicState>();
  readonly brokers = new Map<number, BrokerState>();
  /** Dynamic broker configs: key '' is the cluster-wide default, else the node id. */
  readonly brokerConfigs = new Map<string, Map<string, string>>();
  /** First producer id not yet handed out in a block. */
  nextProducerId = 0;
  /** Number of record batches applied (a version for caches). */
  epoch = 0;
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

  apply(rec: MetadataRecord): void {
    switch (rec.type) {
      case 'RegisterBroker':
        this.brokers.set(rec.nodeId, { nodeId: rec.nodeId, listeners: rec.listeners, rack: rec.rack });
        break;
      case 'Topic': {
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
        };
        break;
      }
      case 'PartitionChange': {
        const p = this.topicsById.get(rec.topicId)?.partitions[rec.partition];
        if (!p) throw new Error(`metadata: PartitionChangeRecord for unknown partition ${rec.topicId}-${rec.partition}`);
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

  applyBatch(batch: MetadataRecord[]): void {
    for (const r of batch) this.apply(r);
    this.epoch++;
  }
}
