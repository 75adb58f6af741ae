/**
 * The consumer-protocol coordinator's edge: owns the clock, the timer that
 * drives session and revocation timeouts and the source of member ids (an
 * injected `Env`), and supplies the topic metadata to the pure state machine
 * (`consumer-groups.ts`). Nothing is persisted yet, so a heartbeat writes
 * nothing and cannot fail on a write.
 */
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
    const r = this.state.heartbeat(req, this.now(), this.topics());
    this.schedule();
    return r;
  }

  describe(groupIds: readonly string[]): DescribedGroup[] {
    return this.state.describe(groupIds, this.topics());
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
