/**
 * Where a benchmark topic's partitions live: one connection per leader
 * broker (through a KafkaClient of its own, so a producer and a consumer in
 * one process never queue behind each other's requests), which partitions
 * each leader has, and the partitions' log end offsets.
 */
import { KafkaClient } from '../../client/client.ts';
import type { Connection } from '../../client/connection.ts';
import { ErrorCode, KafkaError } from '../../protocol/error-codes.ts';

export interface Leader {
  connection: Connection;
  /** Partition ids this broker leads, ascending. */
  partitions: number[];
}

export interface TopicRoute {
  client: KafkaClient;
  topic: string;
  /** Partition count. */
  partitions: number;
  leaders: Leader[];
  close(): Promise<void>;
}

export interface RouteOptions {
  bootstrap: string;
  clientId: string;
  requestTimeoutMs?: number;
  /** How long to wait for every partition to have a leader (a topic just created). */
  leaderWaitMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Connects to the leaders of every partition of `topic` (it must exist). */
export async function openRoute(topic: string, opts: RouteOptions): Promise<TopicRoute> {
  const timeout = opts.requestTimeoutMs ?? 30_000;
  const client = new KafkaClient({
    bootstrapServers: opts.bootstrap,
    clientId: opts.clientId,
    requestTimeoutMs: timeout,
    connectTimeoutMs: Math.min(timeout, 10_000),
    retries: 3,
  });
  try {
    const deadline = Date.now() + (opts.leaderWaitMs ?? 10_000);
    for (;;) {
      const md = await client.metadata([topic]);
      const t = md.topics.find((x) => x.name === topic);
      const ready =
        t &&
        t.errorCode === ErrorCode.NONE &&
        t.partitions.length > 0 &&
        t.partitions.every((p, i) => p.leader >= 0 && p.partition === i);
      if (t && ready) {
        const byNode = new Map<number, Leader>();
        for (const p of t.partitions) {
          let l = byNode.get(p.leader);
          if (!l) byNode.set(p.leader, (l = { connection: await client.brokerConnection(p.leader), partitions: [] }));
          l.partitions.push(p.partition);
        }
        return {
          client,
          topic,
          partitions: t.partitions.length,
          leaders: [...byNode.values()],
          close: () => client.close(),
        };
      }
      // a topic just created may be unknown to the broker asked, or leaderless, for a moment
      if (Date.now() > deadline) {
        if (!t || t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
          throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`);
        throw new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, `topic '${topic}': not every partition has a leader`);
      }
      await sleep(100);
    }
  } catch (err) {
    await client.close();
    throw err;
  }
}

/** Log end offsets of every partition, by partition id. */
export async function endOffsets(route: TopicRoute): Promise<number[]> {
  return Promise.all(
    Array.from(
      { length: route.partitions },
      async (_, p) => (await route.client.listOffsets(route.topic, p, 'latest')).offset,
    ),
  );
}
