/**
 * The reference Apache Kafka under test: the version pinned by
 * scripts/kafka-ref.sh (Kafka 4.3.1), a KRaft single node (broker and
 * controller in one JVM) on loopback, with Kafka's default broker settings
 * apart from the paths, the listeners, what a single node needs (see
 * DEFAULTS_BACK) and a 1 GiB heap (KAFKA_BENCH_HEAP to change it). It is driven exactly as Samsa is: the same librdkafka load
 * generator (bench/loadgen), the same topics, settings and phases; only the
 * broker process differs (SamsaTarget's phases, a different launch()).
 *
 * The script formats a fresh directory (two short JVMs: random-uuid, format)
 * and starts the broker detached; its pid is read from the script's output,
 * and `stop` ends it by that pid. startSeconds therefore includes the
 * formatting, while firstProduceSeconds counts from the broker JVM's own start.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../proc.ts';
import type { Workload } from '../types.ts';
import { type BrokerHandle, SamsaTarget } from './samsa.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const script = path.join(root, 'scripts/kafka-ref.sh');
export const KAFKA_VERSION = '4.3.1';
const heap = () => process.env.KAFKA_BENCH_HEAP || '1g';
/**
 * scripts/kafka-ref.sh is set up for tests: it also sets
 * group.initial.rebalance.delay.ms=0. A later line wins in server.properties,
 * so this puts back Kafka's default (Samsa's default is the same 3000 ms).
 * What remains of the script's settings is what a single node needs: the
 * listeners, node.id and quorum, log.dirs, and replication factor 1 for the
 * internal topics.
 */
const DEFAULTS_BACK = 'group.initial.rebalance.delay.ms=3000';

/** Starts the reference Kafka in `dir` (wiped by the script) on `port`; resolves once the port answers. */
export async function startKafka(dir: string, port: number): Promise<BrokerHandle> {
  const r = await run('bash', [script, 'start', dir], {
    env: { ...process.env, KAFKA_REF_PORT: String(port), KAFKA_REF_HEAP: heap(), KAFKA_REF_PROPS: DEFAULTS_BACK },
    timeoutMs: 180000,
  });
  const m = /pid=(\d+)/.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`scripts/kafka-ref.sh start exited ${r.code}: ${r.stderr.slice(-800)}`);
  const pid = Number(m[1]);
  return {
    pid,
    async stop() {
      const s = await run('bash', [script, 'stop', dir], { timeoutMs: 60000 });
      if (s.code !== 0) throw new Error(`scripts/kafka-ref.sh stop exited ${s.code}: ${s.stderr.slice(-400)}`);
    },
  };
}

export class KafkaTarget extends SamsaTarget {
  override readonly name: string = 'kafka';

  protected override launch(dir: string, port: number): Promise<BrokerHandle> {
    return startKafka(path.join(dir, 'kafka'), port);
  }

  protected override brokerMode(w: Workload): string {
    return `acks=${w.acks} (Apache Kafka ${KAFKA_VERSION}, KRaft single node, default broker settings, heap ${heap()})`;
  }
}
