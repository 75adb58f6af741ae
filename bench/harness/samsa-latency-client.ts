/**
 * Latency load for Samsa, run as its own process (one producer, one consumer)
 * so the harness, the producer and the consumer do not share one event loop:
 *
 *   node --import tsx samsa-latency-client.ts produce <json config>
 *   node --import tsx samsa-latency-client.ts consume <json config>
 *
 * Each prints 'ready', reads the start time (CLOCK_MONOTONIC µs) from stdin,
 * runs, and prints one JSON line with its counts and its own CPU time; the
 * consumer writes its latencies (Float64, µs) to `outFile`. The load itself
 * (paced producer with linger, long-poll consumer, stamps) lives in
 * src/cli/bench/, shared with `samsa bench`: see latency-process.ts there.
 */
import { latencyProcessMain } from '../../src/cli/bench/latency-process.ts';

export type { LatencyClientConfig } from '../../src/cli/bench/latency-client.ts';
export { monoUs } from '../../src/cli/bench/stamp.ts';

latencyProcessMain(process.argv.slice(2));
