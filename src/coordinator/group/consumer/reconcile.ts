/**
 * One step of a member's reconciliation towards its target assignment
 * (KIP-848, "Reconciliation"): pure, from the member's current assignment
 * state, the group's target, which partitions are free, and what the member
 * says it owns.
 *
 * - A member first revokes what it must give up, staying at its epoch
 *   (state `unrevoked`) while it still owns any of those partitions.
 * - Once it has released them it moves to the target epoch and receives the
 *   target partitions that no other member owns; the others stay pending
 *   (state `unreleased`) until their previous owner releases them.
 */
import { addPartition, emptyAssignment, intersects } from './assignment.ts';
import type { Assignment } from './types.ts';

export type MemberState = 'stable' | 'unrevoked' | 'unreleased';

export interface MemberAssignmentState {
  memberEpoch: number;
  previousMemberEpoch: number;
  state: MemberState;
  /** Partitions the member holds and may keep or has been given. */
  assigned: Assignment;
  /** Partitions the member must revoke (held until it says it released them). */
  pendingRevocation: Assignment;
}

/**
 * @param isFree   true when no other member holds the partition
 * @param owned    the partitions the member reported in this heartbeat; null: not reported (assumed still held)
 */
export function reconcile(
  m: MemberAssignmentState,
  targetEpoch: number,
  target: Assignment,
  isFree: (topicId: string, partition: number) => boolean,
  owned: Assignment | null,
): MemberAssignmentState {
  const stillOwns = (a: Assignment) => owned === null || intersects(a, owned);
  switch (m.state) {
    case 'stable':
      if (m.memberEpoch === targetEpoch) return m;
      return next(m, m.assigned, targetEpoch, target, isFree, stillOwns);
    case 'unrevoked':
      if (stillOwns(m.pendingRevocation)) return m;
      return next(m, m.assigned, targetEpoch, target, isFree, stillOwns);
    case 'unreleased':
      return next(m, m.assigned, targetEpoch, target, isFree, stillOwns);
  }
}

function next(
  m: MemberAssignmentState,
  current: Assignment,
  targetEpoch: number,
  target: Assignment,
  isFree: (topicId: string, partition: number) => boolean,
  stillOwns: (a: Assignment) => boolean,
): MemberAssignmentState {
  const kept = emptyAssignment();
  const revoke = emptyAssignment();
  const fresh = emptyAssignment();
  let unreleased = false;
  for (const [t, ps] of current) {
    const want = target.get(t);
    for (const p of ps) addPartition(want?.has(p) ? kept : revoke, t, p);
  }
  for (const [t, ps] of target) {
    const have = current.get(t);
    for (const p of ps) {
      if (have?.has(p)) continue;
      if (isFree(t, p)) addPartition(fresh, t, p);
      else unreleased = true;
    }
  }
  if (revoke.size > 0 && stillOwns(revoke)) {
    // Revoke first; nothing new until the member says it let go.
    return {
      memberEpoch: m.memberEpoch,
      previousMemberEpoch: m.previousMemberEpoch,
      state: 'unrevoked',
      assigned: kept,
      pendingRevocation: revoke,
    };
  }
  for (const [t, ps] of fresh) for (const p of ps) addPartition(kept, t, p);
  return {
    memberEpoch: targetEpoch,
    previousMemberEpoch: targetEpoch === m.memberEpoch ? m.previousMemberEpoch : m.memberEpoch,
    state: unreleased ? 'unreleased' : 'stable',
    assigned: kept,
    pendingRevocation: emptyAssignment(),
  };
}
