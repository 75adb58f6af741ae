/**
 * The plan of `samsa cluster rebalance`: an even spread of partition replicas
 * and of preferred leaders (the first replica of each partition) over the
 * live brokers, reached with the fewest replica moves.
 *
 * - Replica counts: with T replicas and N brokers, every broker ends with
 *   floor(T/N) or one more; the brokers holding most now keep the extra ones,
 *   so that only the surplus moves: the plan moves exactly the replicas on
 *   brokers that are gone plus each broker's surplus over its share.
 * - A moved replica takes the place of the one it replaces in the replica
 *   list (the preferred leader stays put unless it is the one that moves).
 * - Preferred leaders: then balanced by reordering replica lists only (no
 *   data moves): while a broker leads two or more partitions more than
 *   another that is a replica of one of them, the other goes first there.
 */

export interface PartitionAssignment {
  topic: string;
  partition: number;
  replicas: number[];
}

export interface PlannedChange extends PartitionAssignment {
  /** The replica list to reassign the partition to. */
  target: number[];
}

export interface RebalancePlan {
  brokers: number[];
  /** Replicas per broker, before and after (brokers not live included before, with what they hold). */
  replicasBefore: Record<string, number>;
  replicasAfter: Record<string, number>;
  /** Preferred leaderships (first replica) per broker, before and after. */
  leadersBefore: Record<string, number>;
  leadersAfter: Record<string, number>;
  /** The partitions whose replica list changes (set or order), in input order. */
  changes: PlannedChange[];
  /** Replicas copied to another broker. */
  replicaMoves: number;
}

function tally(lists: readonly number[][], brokers: readonly number[], firstOnly: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of brokers) out[b] = 0;
  for (const r of lists) for (const id of firstOnly ? r.slice(0, 1) : r) out[id] = (out[id] ?? 0) + 1;
  return out;
}

/**
 * Plans the rebalance of `parts` over `liveBrokers`. Throws when a partition
 * has more replicas than there are live brokers.
 */
export function planRebalance(parts: readonly PartitionAssignment[], liveBrokers: readonly number[]): RebalancePlan {
  const brokers = [...new Set(liveBrokers)].sort((a, b) => a - b);
  if (brokers.length === 0) throw new Error('no live brokers to place replicas on');
  const n = brokers.length;
  for (const p of parts) {
    if (p.replicas.length > n)
      throw new Error(
        `${p.topic}-${p.partition} has ${p.replicas.length} replicas but only ${n} broker(s) are live: it cannot be spread`,
      );
  }
  const live = new Set(brokers);
  const target = parts.map((p) => [...p.replicas]);
  const count = new Map<number, number>(brokers.map((b) => [b, 0]));
  for (const r of target) for (const id of r) if (live.has(id)) count.set(id, count.get(id)! + 1);

  // each broker's share: the extra ones go to the brokers that hold most now
  const total = target.reduce((s, r) => s + r.length, 0);
  const base = Math.floor(total / n);
  const byLoad = [...brokers].sort((a, b) => count.get(b)! - count.get(a)! || a - b);
  const share = new Map<number, number>(byLoad.map((b, i) => [b, base + (i < total % n ? 1 : 0)]));

  /** The broker to take a replica of `r`: below its share if possible, least loaded, lowest id. */
  const receiver = (r: readonly number[], belowShareOnly: boolean): number | undefined => {
    let best: number | undefined;
    for (const b of brokers) {
      if (r.includes(b)) continue;
      if (belowShareOnly && count.get(b)! >= share.get(b)!) continue;
      if (best === undefined || count.get(b)! < count.get(best)!) best = b;
    }
    return best;
  };
  const move = (r: number[], at: number, to: number) => {
    const from = r[at];
    if (live.has(from)) count.set(from, count.get(from)! - 1);
    r[at] = to;
    count.set(to, count.get(to)! + 1);
  };

  // replicas on brokers that are not live must move
  for (const r of target) {
    for (let i = 0; i < r.length; i++) {
      if (live.has(r[i])) continue;
      const to = receiver(r, true) ?? receiver(r, false);
      if (to !== undefined) move(r, i, to);
    }
  }
  // then each broker's surplus over its share: followers first, so that preferred leaders stay
  for (;;) {
    const donor = brokers.find((b) => count.get(b)! > share.get(b)!);
    if (donor === undefined) break;
    let moved = false;
    for (const pass of [1, 0]) {
      for (const r of target) {
        const at = r.indexOf(donor);
        if (at < 0 || (pass === 1 && at === 0)) continue;
        const to = receiver(r, true);
        if (to === undefined) continue;
        move(r, at, to);
        moved = true;
        break;
      }
      if (moved) break;
    }
    if (!moved) break; // cannot happen while shares add up; stop rather than loop
  }

  // preferred leaders: reorder only
  const leaders = new Map<number, number>(brokers.map((b) => [b, 0]));
  for (const r of target) if (r.length > 0) leaders.set(r[0], (leaders.get(r[0]) ?? 0) + 1);
  for (let guard = 0; guard < target.length * n + 1; guard++) {
    const ordered = [...brokers].sort((a, b) => leaders.get(b)! - leaders.get(a)! || a - b);
    let swapped = false;
    for (const d of ordered) {
      for (const to of [...ordered].reverse()) {
        if (leaders.get(d)! - leaders.get(to)! < 2) break;
        const r = target.find((x) => x[0] === d && x.includes(to));
        if (!r) continue;
        const at = r.indexOf(to);
        r[at] = d;
        r[0] = to;
        leaders.set(d, leaders.get(d)! - 1);
        leaders.set(to, leaders.get(to)! + 1);
        swapped = true;
        break;
      }
      if (swapped) break;
    }
    if (!swapped) break;
  }

  const changes: PlannedChange[] = [];
  let replicaMoves = 0;
  parts.forEach((p, i) => {
    const t = target[i];
    if (t.length === p.replicas.length && t.every((id, j) => id === p.replicas[j])) return;
    replicaMoves += t.filter((id) => !p.replicas.includes(id)).length;
    changes.push({ topic: p.topic, partition: p.partition, replicas: [...p.replicas], target: t });
  });
  const before = parts.map((p) => p.replicas);
  return {
    brokers,
    replicasBefore: tally(before, brokers, false),
    replicasAfter: tally(target, brokers, false),
    leadersBefore: tally(before, brokers, true),
    leadersAfter: tally(target, brokers, true),
    changes,
    replicaMoves,
  };
}
