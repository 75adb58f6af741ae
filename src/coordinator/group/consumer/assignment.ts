/**
 * Small value operations on assignments (topicId -> set of partitions) for
 * the consumer-protocol coordinator: copy, compare, difference, and the
 * conversions to and from the wire's sorted lists.
 */
import type { Assignment, WireTopicPartitions } from './types.ts';

export function emptyAssignment(): Assignment {
  return new Map();
}

export function copyAssignment(a: Assignment): Assignment {
  const out: Assignment = new Map();
  for (const [t, ps] of a) if (ps.size > 0) out.set(t, new Set(ps));
  return out;
}

export function addPartition(a: Assignment, topicId: string, partition: number): void {
  let s = a.get(topicId);
  if (!s) a.set(topicId, (s = new Set()));
  s.add(partition);
}

export function removePartition(a: Assignment, topicId: string, partition: number): void {
  const s = a.get(topicId);
  if (!s) return;
  s.delete(partition);
  if (s.size === 0) a.delete(topicId);
}

export function hasPartition(a: Assignment, topicId: string, partition: number): boolean {
  return a.get(topicId)?.has(partition) ?? false;
}

export function countPartitions(a: Assignment): number {
  let n = 0;
  for (const s of a.values()) n += s.size;
  return n;
}

export function* partitionsOf(a: Assignment): Generator<[string, number]> {
  for (const [t, ps] of a) for (const p of ps) yield [t, p];
}

export function assignmentsEqual(a: Assignment, b: Assignment): boolean {
  if (countPartitions(a) !== countPartitions(b)) return false;
  for (const [t, p] of partitionsOf(a)) if (!hasPartition(b, t, p)) return false;
  return true;
}

/** True when every partition of `a` is in `b`. */
export function isSubset(a: Assignment, b: Assignment): boolean {
  for (const [t, p] of partitionsOf(a)) if (!hasPartition(b, t, p)) return false;
  return true;
}

/** True when `a` and `b` share a partition. */
export function intersects(a: Assignment, b: Assignment): boolean {
  for (const [t, p] of partitionsOf(a)) if (hasPartition(b, t, p)) return true;
  return false;
}

export function toWire(a: Assignment): WireTopicPartitions[] {
  return [...a]
    .filter(([, ps]) => ps.size > 0)
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([topicId, ps]) => ({ topicId, partitions: [...ps].sort((x, y) => x - y) }));
}

export function fromWire(list: readonly { topicId: string; partitions: readonly number[] }[]): Assignment {
  const out: Assignment = new Map();
  for (const t of list) for (const p of t.partitions) addPartition(out, t.topicId, p);
  return out;
}
