/**
 * Shapes shared by the group coordinator's state machine and its edges:
 * requests as the coordinator sees them (already decoded, version folded in),
 * the actions it returns, and the persisted group / offset facts.
 */

/** An opaque handle for a request whose answer comes later (JoinGroup, SyncGroup). */
export type Token = number;

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface JoinArgs {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  clientId: string;
  clientHost: string;
  /** JoinGroup v4+ asks an unknown member to rejoin with an id (KIP-394). */
  requireKnownMemberId: boolean;
  reason: string | null;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  skipAssignment: boolean;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncArgs {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface CommittedOffset {
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
  commitTimestamp: number;
  /** -1: expires by the retention rules (offsets.retention.minutes). */
  expireTimestamp: number;
}

/** The persisted form of a group (what __consumer_offsets keeps for it). */
export interface GroupSnapshot {
  groupId: string;
  protocolType: string | null;
  generationId: number;
  protocolName: string | null;
  leader: string | null;
  currentStateTimestamp: number;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    rebalanceTimeoutMs: number;
    sessionTimeoutMs: number;
    subscription: Buffer;
    assignment: Buffer;
  }[];
}

/** What the state machine asks its edge to do. */
export type Action =
  | { kind: 'join'; token: Token; result: JoinResult }
  | { kind: 'sync'; token: Token; result: SyncResult }
  /** Persist the group's metadata (null snapshot: a tombstone, the group is gone). */
  | { kind: 'persistGroup'; groupId: string; snapshot: GroupSnapshot | null };
