/**
 * The consumer-protocol coordinator's edge: owns the clock, the timer that
 * drives session and revocation timeouts and the source of member ids (an
 * injected `Env`), and supplies the topic metadata to the pure state machine
 * (`consumer-groups.ts`). Nothing is persisted yet, so a heartbeat writes
 * nothing and cannot fail on a write. Which groups this node coordinates is
 * the classic coordinator's to say (`coordinatorError`, set by
 * GroupCoordinatorService.attachConsumerGroups): the groups of the
 * __consumer_offsets partitions this node leads.
 */
import { ErrorCode } from '../../../protocol/error-codes.ts';
import { systemEnv, type Env } from '../../../util/env.ts';
import { DeadlineTimer } from '../deadline-timer.ts';
import { ConsumerGroups } from './consumer-groups.ts';
import type {
  ConsumerGroupConfig,
  DescribedGroup,
  HeartbeatRequest,
  HeartbeatResponse,
  TopicInfo,
  TopicsMetadata,
} from './types.ts';

const INTERNAL = new Set(['__consumer_offsets', '__transaction_state']);

/**
 * A topics provider over the broker's metadata image, rebuilt only when the
 * image changed (its `epoch`, the metadata offset, grows with every commit). Internal topics are left out.
 */
export function topicsFromImage(image: {
  epoch: number;
  topicsByName: ReadonlyMap<string, { topicId: string; partitions: readonly unknown[] }>;
}): () => TopicsMetadata {
  let at = -1;
  let cached: Map<string, TopicInfo> = new Map();
  return () => {
    if (image.epoch !== at) {
      cached = new Map();
      for (const [name, t] of image.topicsByName)
        if (!INTERNAL.has(name)) cached.set(name, { topicId: t.topicId, partitions: t.partitions.length });
      at = image.epoch;
    }
    return cached;
  };
}

export class ConsumerGroupService {
  readonly state: ConsumerGroups;
  private readonly timer: DeadlineTimer;
  /** NONE when this node coordinates the group, else the error to answer (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS). */
  coordinatorError: (groupId: string) => number = () => ErrorCode.NONE;

  constructor(
    config: Partial<ConsumerGroupConfig>,
    private readonly topics: () => TopicsMetadata,
    private readonly env: Env = systemEnv,
  ) {
    this.state = new ConsumerGroups({ newMemberId: () => env.uuid(), ...config });
    this.timer = new DeadlineTimer(() => {
      this.state.tick(this.now());
      this.schedule();
    }, env);
  }

  private now(): number {
    return this.env.now();
  }

  heartbeat(req: HeartbeatRequest): HeartbeatResponse {
    // a malformed request is answered as such wherever it is sent, as Kafka does
    const refused = this.state.validate(req) === null ? this.coordinatorError(req.groupId) : ErrorCode.NONE;
    if (refused !== ErrorCode.NONE) {
      return {
        throttleTimeMs: 0,
        errorCode: refused,
        errorMessage: null,
        memberId: null,
        memberEpoch: 0,
        heartbeatIntervalMs: 0,
        assignment: null,
      };
    }
    const r = this.state.heartbeat(req, this.now(), this.topics());
    this.schedule();
    return r;
  }

  describe(groupIds: readonly string[]): DescribedGroup[] {
    const codes = groupIds.map((id) => this.coordinatorError(id));
    const described = this.state.describe(
      groupIds.filter((_, i) => codes[i] === ErrorCode.NONE),
      this.topics(),
    );
    let j = 0;
    return groupIds.map((groupId, i) => {
      const code = codes[i];
      if (code === ErrorCode.NONE) return described[j++];
      return {
        errorCode: code,
        errorMessage: null,
        groupId,
        groupState: '',
        groupEpoch: 0,
        assignmentEpoch: 0,
        assignorName: '',
        members: [],
        authorizedOperations: -2147483648,
      };
    });
  }

  /** Call after topics are created, deleted or grown. */
  onMetadata(): void {
    this.state.onMetadata(this.topics());
    this.schedule();
  }

  private schedule(): void {
    this.timer.schedule(this.state.nextDeadline());
  }

  close(): void {
    this.timer.close();
  }
}
