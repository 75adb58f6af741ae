/**
 * Partition reassignment (KIP-455), decided as KRaft's controller does, as
 * pure functions of the metadata image (the controller commits what they
 * return):
 *
 * - Starting one with target replicas T on a partition whose replicas are R:
 *   adding = T − R, removing = R − T, replicas = T followed by the removing
 *   ones; ISR and leader unchanged. The adding replicas' brokers host the
 *   partition as followers (the image names them) and catch up through the
 *   normal replication path; the leader adds them to the ISR.
 * - It completes once every replica of T is in the ISR: replicas = T, the
 *   removing replicas leave the ISR, and the leader, if it is removed, is
 *   replaced by the first replica of T (in T's order) that is in the ISR and
 *   can lead (the leader epoch is bumped by the leader change).
 * - A new target during a reassignment is computed against the current
 *   replicas (the adding ones included), as KRaft does.
 * - Cancelling (a null target) reverts: the adding replicas leave the
 *   replicas and the ISR, the removing ones stay; refused when the ISR would
 *   be empty (that would take an unclean election).
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { MetadataImage, PartitionState } from './image.ts';
import type { MetadataRecord, PartitionChangeRecord } from './records.ts';

export interface ReassignmentDecision {
  errorCode: number;
  errorMessage: string | null;
  /** The change to commit (null: nothing to change, or refused). */
  record: PartitionChangeRecord | null;
}

/** A partition's assignment: what a reassignment decides. */
interface Assignment {
  replicas: number[];
  isr: number[];
  leader: number;
  adding: number[];
  removing: number[];
}

/** Whether the partition has a reassignment in progress. */
export function isReassigning(p: PartitionState): boolean {
  return (p.addingReplicas?.length ?? 0) > 0 || (p.removingReplicas?.length ?? 0) > 0;
}

function assignmentOf(p: PartitionState): Assignment {
  return {
    replicas: p.replicas,
    isr: p.isr,
    leader: p.leader,
    adding: p.addingReplicas ?? [],
    removing: p.removingReplicas ?? [],
  };
}

const sameList = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The record that takes `p` to `next` (null when nothing changes). */
function changeRecord(topicId: string, p: PartitionState, next: Assignment): PartitionChangeRecord | null {
  const rec: PartitionChangeRecord = { type: 'PartitionChange', topicId, partition: p.partition };
  let changed = false;
  if (next.leader !== p.leader) {
    rec.leader = next.leader;
    changed = true;
  }
  if (!sameList(next.isr, p.isr)) {
    rec.isr = next.isr;
    changed = true;
  }
  if (!sameList(next.replicas, p.replicas)) {
    rec.replicas = next.replicas;
    changed = true;
  }
  if (!sameList(next.adding, p.addingReplicas ?? [])) {
    rec.addingReplicas = next.adding;
    changed = true;
  }
  if (!sameList(next.removing, p.removingReplicas ?? [])) {
    rec.removingReplicas = next.removing;
    changed = true;
  }
  return changed ? rec : null;
}

/**
 * The assignment once the reassignment in `a` completes, or `a` itself while
 * some target replica is not in the ISR yet (or none is in progress).
 */
function completed(image: MetadataImage, a: Assignment): Assignment {
  if (a.adding.length === 0 && a.removing.length === 0) return a;
  const target = a.replicas.filter((id) => !a.removing.includes(id));
  if (target.length === 0 || !target.every((id) => a.isr.includes(id))) return a;
  const isr = a.isr.filter((id) => target.includes(id));
  let leader = a.leader;
  if (!target.includes(leader)) leader = target.find((id) => isr.includes(id) && image.canLead(id)) ?? -1;
  return { replicas: target, isr, leader, adding: [], removing: [] };
}

/** Why `target` is not a valid replica list (INVALID_REPLICA_ASSIGNMENT), or null. */
function checkTarget(image: MetadataImage, target: readonly number[]): string | null {
  if (target.length === 0) return 'The manual partition assignment includes an empty replica list.';
  const seen = new Set<number>();
  for (const id of target) {
    if (seen.has(id)) return `The manual partition assignment includes the broker ${id} more than once.`;
    seen.add(id);
    if (!image.brokers.has(id))
      return `The manual partition assignment includes broker ${id}, but no such broker is registered.`;
  }
  return null;
}

/**
 * AlterPartitionReassignments for one partition: `target` null cancels the
 * reassignment in progress. `allowReplicationFactorChange` false (v1,
 * KIP-860) refuses a target whose size differs from the replication factor.
 */
export function decideReassignment(
  image: MetadataImage,
  topicName: string,
  partition: number,
  target: readonly number[] | null,
  allowReplicationFactorChange = true,
): ReassignmentDecision {
  const topic = image.topicsByName.get(topicName);
  const p = topic?.partitions[partition];
  if (!topic || !p) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null, record: null };
  const cur = assignmentOf(p);
  if (target === null) {
    if (!isReassigning(p))
      return {
        errorCode: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS,
        errorMessage: `No ongoing reassignment for ${topicName}-${partition}.`,
        record: null,
      };
    const replicas = cur.replicas.filter((id) => !cur.adding.includes(id));
    const isr = cur.isr.filter((id) => !cur.adding.includes(id));
    if (isr.length === 0)
      return {
        errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        errorMessage: `Unable to revert partition assignment for ${topicName}-${partition} because it would require an unclean leader election.`,
        record: null,
      };
    const leader = replicas.includes(cur.leader)
      ? cur.leader
      : (replicas.find((id) => isr.includes(id) && image.canLead(id)) ?? -1);
    const record = changeRecord(topic.topicId, p, { replicas, isr, leader, adding: [], removing: [] });
    return { errorCode: ErrorCode.NONE, errorMessage: null, record };
  }
  const bad = checkTarget(image, target);
  if (bad !== null) return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: bad, record: null };
  const rf = cur.replicas.length - cur.adding.length;
  if (!allowReplicationFactorChange && target.length !== rf)
    return {
      errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
      errorMessage: `The replication factor is changed from ${rf} to ${target.length} but changing replication factor is not allowed.`,
      record: null,
    };
  const removing = cur.replicas.filter((id) => !target.includes(id));
  const adding = target.filter((id) => !cur.replicas.includes(id));
  const next = completed(image, {
    replicas: [...target, ...removing],
    isr: cur.isr,
    leader: cur.leader,
    adding,
    removing,
  });
  return { errorCode: ErrorCode.NONE, errorMessage: null, record: changeRecord(topic.topicId, p, next) };
}

/**
 * The records that complete every reassignment whose target replicas are
 * all in the ISR: of the partitions named by `batch`'s Partition and
 * PartitionChange records, or of every partition when `batch` is null.
 */
export function reassignmentCompletions(
  image: MetadataImage,
  batch: readonly MetadataRecord[] | null,
): PartitionChangeRecord[] {
  const out: PartitionChangeRecord[] = [];
  const done = new Set<PartitionState>();
  const consider = (topicId: string, p: PartitionState | undefined) => {
    if (!p || done.has(p) || !isReassigning(p)) return;
    done.add(p);
    const rec = changeRecord(topicId, p, completed(image, assignmentOf(p)));
    if (rec) out.push(rec);
  };
  if (batch === null) {
    for (const t of image.topicsById.values()) for (const p of t.partitions) consider(t.topicId, p);
  } else {
    for (const r of batch)
      if (r.type === 'Partition' || r.type === 'PartitionChange')
        consider(r.topicId, image.topicsById.get(r.topicId)?.partitions[r.partition]);
  }
  return out;
}

export interface OngoingReassignment {
  topic: string;
  partition: number;
  replicas: number[];
  addingReplicas: number[];
  removingReplicas: number[];
}

/**
 * ListPartitionReassignments: the reassignments in progress, of every
 * partition (`wanted` null) or of the named ones (unknown ones are left out).
 */
export function ongoingReassignments(
  image: MetadataImage,
  wanted: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
): OngoingReassignment[] {
  const out: OngoingReassignment[] = [];
  const add = (topic: string, p: PartitionState | undefined) => {
    if (!p || !isReassigning(p)) return;
    out.push({
      topic,
      partition: p.partition,
      replicas: [...p.replicas],
      addingReplicas: [...(p.addingReplicas ?? [])],
      removingReplicas: [...(p.removingReplicas ?? [])],
    });
  };
  if (wanted === null) {
    for (const t of image.topicsByName.values()) for (const p of t.partitions) add(t.name, p);
  } else {
    for (const w of wanted) {
      const t = image.topicsByName.get(w.name);
      if (t) for (const i of new Set(w.partitionIndexes)) add(t.name, t.partitions[i]);
    }
  }
  return out;
}
