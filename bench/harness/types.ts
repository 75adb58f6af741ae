/** Shapes shared by the harness, the targets and the report. */

export interface Workload {
  /** e.g. "p16-1KiB-acks=all" */
  name: string;
  partitions: number;
  /** Message size in bytes (the value; no key). */
  size: number;
  acks: '1' | 'all';
  /** Messages sent in the max-throughput run. */
  messages: number;
  /** Length of the fixed-rate latency run, seconds (0 = skip). */
  latencySeconds: number;
}

export interface PhaseResult {
  msgs: number;
  bytes: number;
  seconds: number;
  /** Server CPU seconds spent during the phase. */
  serverCpu: number;
  /** Load generator CPU seconds (harness + reaped child processes). */
  clientCpu: number;
}

export interface TailResult {
  produce: { msgs: number; bytes: number; seconds: number };
  consume: { msgs: number; bytes: number; seconds: number };
  /** Over the whole phase (process start to exit). */
  serverCpu: number;
  clientCpu: number;
  driver: string;
}

export interface LatencyResult {
  targetRate: number;
  achievedRate: number;
  sent: number;
  received: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  serverCpu: number;
  clientCpu: number;
  /** Wall seconds over which serverCpu and clientCpu were taken. */
  cpuSeconds: number;
  /** Load generator processes, each with its own CPU seconds over its own window (when known). */
  clients?: LatencyClient[];
  /** How the load was generated, in words. */
  driver?: string;
}

export interface LatencyClient {
  name: string;
  cpu: number;
  seconds: number;
}

/** CPU taken by the target over the sending window instead of the whole latency() call. */
export interface LatencyWindow {
  seconds: number;
  serverCpu: number;
  clients: LatencyClient[];
  driver: string;
}

export interface TargetResult {
  target: string;
  error?: string;
  /** The peer's durability setting used for this workload, in its own words. */
  mode?: string;
  produce?: PhaseResult;
  consume?: PhaseResult;
  /** Max produce again, into a fresh topic, with consumers tailing it (Samsa only). */
  tail?: TailResult;
  /** Fixed-rate run at 50% of this target's measured max msgs/s. */
  latency?: LatencyResult;
  /** Fixed-rate run at 10% of the measured max (well below saturation). */
  latencyLight?: LatencyResult;
  /**
   * Fixed-rate run at 50% of the max produce rate reached with consumers
   * tailing (the `tail` phase): the max rate as the OpenMessaging Benchmark
   * finds it, with producers and consumers running at once.
   */
  latencyTailed?: LatencyResult;
  /**
   * Fixed-rate run at the workload's common rate, 50% of the reference Kafka's
   * max produce, so that every target's latency is also compared at one rate
   * (skipped where that is above 90% of the target's own max).
   */
  latencyCommon?: LatencyResult;
  rssRest?: number;
  /** Peak over the whole run (the latency runs at 50% can queue far more than max throughput does). */
  rssPeak?: number;
  /** Peak over the max-throughput phases (produce and catch-up). */
  rssPeakMaxThroughput?: number;
  startSeconds?: number;
  /** Seconds from the broker process's start to its first acknowledged produce, topics created first (Kafka-protocol targets). */
  firstProduceSeconds?: number;
}

export interface LatencyProbe {
  /** Called with the receive time (µs, harness clock) and the stamp found in the payload. */
  onMessage(stampUs: number): void;
}

/** A broker under test. One instance per workload run: start() gets a fresh data dir. */
export interface Target {
  readonly name: string;
  /** Human-readable durability mapping of this workload, e.g. "appendfsync always". */
  mode(w: Workload): string;
  start(w: Workload): Promise<void>;
  /** Server pid, for /proc readings. */
  pid(): number;
  /** Sends w.messages messages as fast as the client allows; returns when all are acknowledged. */
  produce(w: Workload, files: PayloadFiles): Promise<{ msgs: number; bytes: number }>;
  /** Reads everything back from the beginning. */
  consume(w: Workload, expected: number): Promise<{ msgs: number; bytes: number }>;
  /**
   * Optional: max produce into a fresh topic while consumers tail it from its
   * end; seconds from the common start to the last delivery report / the last
   * message consumed. Null when the target cannot run it here.
   */
  tail?(
    w: Workload,
    files: PayloadFiles,
  ): Promise<{
    produce: { msgs: number; bytes: number; seconds: number };
    consume: { msgs: number; bytes: number; seconds: number };
    driver: string;
  } | null>;
  /** Fixed-rate run: sends `rate` msgs/s for `seconds`, stamps each message, measures receive - send. */
  latency(
    w: Workload,
    rate: number,
    seconds: number,
  ): Promise<{ sent: number; latenciesUs: Float64Array; received: number; window?: LatencyWindow }>;
  stop(): Promise<void>;
  /** Set by start() where measured: seconds from the broker process's start to its first acknowledged produce. */
  readonly firstProduceSeconds?: number;
}

export interface PayloadFiles {
  /** Newline-delimited file, each line exactly `size` bytes, `lines` lines. */
  file: string;
  lines: number;
  /** Parallel producer processes that each send the whole file (lines * copies = messages). */
  copies: number;
  payload: Buffer;
}

export interface Ceilings {
  loopbackMBps?: number;
  diskWriteMBps?: number;
  diskFsyncMBps?: number;
  diskFsyncIops?: number;
  diskFsyncP99Ms?: number;
  notes: string[];
}

export interface StartupResult {
  partitions: number;
  createSeconds?: number;
  cleanShutdownSeconds?: number;
  afterCleanPortSeconds?: number;
  afterCleanReadySeconds?: number;
  afterKillPortSeconds?: number;
  afterKillReadySeconds?: number;
  rssRest?: number;
  error?: string;
}

export interface BenchOptions {
  quick?: boolean;
  /** Which targets to run: samsa, kafka, nats, redis (default all available). */
  targets?: string[];
  /** Only workloads whose name contains one of these strings. */
  only?: string[];
  ceilings?: boolean;
  startup?: boolean;
  /** Where latest.json goes (default bench/results/latest.json). */
  resultsFile?: string;
  /** Where the chart goes (default docs/bench-latest.svg). */
  svgFile?: string;
  /** Print progress lines (default true). */
  verbose?: boolean;
  /** Working dir for temp data (default os.tmpdir()). */
  tmpDir?: string;
}
