/**
 * Server-side partition assignors of the consumer protocol (KIP-848 moves
 * assignment from the group leader to the coordinator): `uniform` (the
 * default: spreads partitions evenly and keeps current owners where the
 * balance allows) and `range` (per topic, contiguous ranges, laid out as the
 * client-side range assignor does). Pure functions of the members'
 * subscriptions, the topics and the current target assignment.
 */
import { addPartition, emptyAssignment, removePartition } from './assignment.ts';
import type { Assignment } from './types.ts';

export interface AssignorMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  /** Subscribed topics, by id (already resolved from names and regex). */
  topicIds: ReadonlySet<string>;
  /** The member's current target assignment (stickiness). */
  current: Assignment;
}

export interface AssignorInput {
  members: readonly AssignorMember[];
  /** topicId -> name and partition count, for every topic any member subscribes to. */
  topics: ReadonlyMap<string, { name: string; partitions: number }>;
}

export type AssignorOutput = Map<string, Assignment>;

export interface ServerAssignor {
  readonly name: string;
  assign(input: AssignorInput): AssignorOutput;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * uniform: keeps each member's still-valid partitions, gives the unowned ones
 * to the least loaded eligible member (topics with fewer subscribers first),
 * then moves partitions from a member to an eligible one with at least two
 * fewer until no such move exists. With identical subscriptions this ends
 * with counts that differ by at most one, moving as few partitions as that
 * takes.
 */
export const uniformAssignor: ServerAssignor = {
  name: 'uniform',
  assign({ members, topics }) {
    const sorted = [...members].sort((a, b) => byString(a.memberId, b.memberId));
    const out: AssignorOutput = new Map(sorted.map((m) => [m.memberId, emptyAssignment()]));
    const count = new Map(sorted.map((m) => [m.memberId, 0]));
    const eligible = new Map<string, string[]>();
    for (const m of sorted) {
      for (const t of m.topicIds) {
        if (!topics.has(t)) continue;
        let l = eligible.get(t);
        if (!l) eligible.set(t, (l = []));
        l.push(m.memberId);
      }
    }
    const owned = new Set<string>();
    const key = (t: string, p: number) => `${t}:${p}`;
    const give = (memberId: string, t: string, p: number) => {
      addPartition(out.get(memberId)!, t, p);
      count.set(memberId, count.get(memberId)! + 1);
      owned.add(key(t, p));
    };
    const leastLoaded = (candidates: string[]): string => {
      let best = candidates[0];
      for (const c of candidates) if (count.get(c)! < count.get(best)!) best = c;
      return best;
    };

    // 1. Stickiness: keep what is still subscribed and still exists.
    for (const m of sorted) {
      for (const [t, ps] of m.current) {
        const info = topics.get(t);
        if (!info || !m.topicIds.has(t)) continue;
        for (const p of [...ps].sort((a, b) => a - b))
          if (p < info.partitions && !owned.has(key(t, p))) give(m.memberId, t, p);
      }
    }
    // 2. Unowned partitions to the least loaded eligible member.
    const topicOrder = [...eligible.keys()].sort(
      (a, b) =>
        eligible.get(a)!.length - eligible.get(b)!.length ||
        byString(topics.get(a)!.name, topics.get(b)!.name) ||
        byString(a, b),
    );
    for (const t of topicOrder) {
      const n = topics.get(t)!.partitions;
      for (let p = 0; p < n; p++) if (!owned.has(key(t, p))) give(leastLoaded(eligible.get(t)!), t, p);
    }
    // 3. Balance: move from a member to an eligible one with >= 2 fewer partitions.
    const name = (t: string) => topics.get(t)!.name;
    let moved = true;
    while (moved) {
      moved = false;
      const heavyFirst = [...sorted].sort(
        (a, b) => count.get(b.memberId)! - count.get(a.memberId)! || byString(a.memberId, b.memberId),
      );
      for (const m of heavyFirst) {
        const mine = [
          ...(function* () {
            for (const [t, ps] of out.get(m.memberId)!) for (const p of ps) yield [t, p] as [string, number];
          })(),
        ].sort(([t1, p1], [t2, p2]) => byString(name(t2), name(t1)) || p2 - p1);
        for (const [t, p] of mine) {
          const to = leastLoaded(eligible.get(t)!);
          if (count.get(m.memberId)! - count.get(to)! < 2) continue;
          removePartition(out.get(m.memberId)!, t, p);
          count.set(m.memberId, count.get(m.memberId)! - 1);
          addPartition(out.get(to)!, t, p);
          count.set(to, count.get(to)! + 1);
          moved = true;
        }
      }
    }
    return out;
  },
};

/** Static members first by instance id, then dynamic members by member id (the client-side range order). */
function rangeOrder(a: AssignorMember, b: AssignorMember): number {
  if (a.instanceId !== null && b.instanceId !== null)
    return byString(a.instanceId, b.instanceId) || byString(a.memberId, b.memberId);
  if (a.instanceId !== null) return -1;
  if (b.instanceId !== null) return 1;
  return byString(a.memberId, b.memberId);
}

/**
 * range: for each topic, its subscribers in order take contiguous ranges;
 * the first (partitions % subscribers) get one extra partition.
 */
export const rangeAssignor: ServerAssignor = {
  name: 'range',
  assign({ members, topics }) {
    const out: AssignorOutput = new Map(members.map((m) => [m.memberId, emptyAssignment()]));
    for (const [t, info] of topics) {
      const subs = members.filter((m) => m.topicIds.has(t)).sort(rangeOrder);
      if (subs.length === 0) continue;
      const per = Math.floor(info.partitions / subs.length);
      const extra = info.partitions % subs.length;
      subs.forEach((m, i) => {
        const start = i * per + Math.min(i, extra);
        const len = per + (i < extra ? 1 : 0);
        for (let p = start; p < start + len; p++) addPartition(out.get(m.memberId)!, t, p);
      });
    }
    return out;
  },
};

export const SERVER_ASSIGNORS: ReadonlyMap<string, ServerAssignor> = new Map([
  [uniformAssignor.name, uniformAssignor],
  [rangeAssignor.name, rangeAssignor],
]);
