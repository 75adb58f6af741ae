/**
 * Kafka Connect (Apache Kafka 4.3.1's connect-runtime, from
 * scripts/kafka-ref.sh) in distributed mode on Samsa, and the same scenario
 * on the reference Kafka to check the expectations against Kafka itself:
 *
 * - two workers create the config, offset and status topics (compacted, with
 *   Kafka's default partition counts 1 / 25 / 5) and form one group with the
 *   connect protocol (protocol type "connect", protocol "sessioned"), whose
 *   leader spreads the connectors and tasks over both;
 * - a FileStreamSource connector reads a file into a topic and a
 *   FileStreamSink connector writes that topic to another file, which must
 *   equal the source file line for line;
 * - more lines are appended while the workers are down (SIGKILL), and the
 *   restarted workers move exactly those lines: the topic holds each line
 *   once and the sink file equals the source file again.
 *
 * Why exactly once across the restart may be asserted of an at-least-once
 * pipeline: Connect stores source offsets (offset topic) and sink positions
 * (committed offsets of the sink's consumer group) every
 * offset.flush.interval.ms, after the records are written; a crash replays
 * only what lies beyond the last stored offset. The test kills the workers
 * only once the REST API (GET /connectors/NAME/offsets, which reads the
 * offset topic and the group's committed offsets back from the broker) shows
 * both offsets covering everything moved so far. So nothing may be replayed:
 * a duplicate line means stored offsets were lost or read back wrong (the
 * compacted offset topic or OffsetFetch), a missing line means the resumed
 * position was too far.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import kafkajs, { type Admin } from 'kafkajs';
import { startChildBroker, freePort, eventually, type ChildBroker } from '../helpers/broker.ts';
import { kafkaClasspath, startReferenceKafka, type ReferenceKafka } from '../helpers/kafka-ref.ts';
import { kcatConsume } from '../helpers/kcat.ts';

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;

const GROUP = 'connect-cluster';
const INTERNAL_TOPICS = { 'connect-configs': 1, 'connect-offsets': 25, 'connect-status': 5 } as const;
const DATA_TOPIC = 'lines';
const FIRST = 200;
const MORE = 50;
const WORKERS = 2;
const DEADLINE = 90_000;

const lines = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i} ${'x'.repeat((from + i) % 17)}`);

/** A ConnectDistributed worker in a child JVM, REST on a loopback port. */
class Worker {
  private proc?: ChildProcess;
  private exited: Promise<void> = Promise.resolve();
  out = '';

  constructor(
    private readonly cp: string,
    private readonly propsFile: string,
    readonly rest: string,
  ) {}

  async start(): Promise<void> {
    this.out = '';
    const p = spawn(
      'java',
      [
        '-Xmx384m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-cp',
        this.cp,
        'org.apache.kafka.connect.cli.ConnectDistributed',
        this.propsFile,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = p;
    const keep = (d: Buffer) => {
      this.out += d.toString();
      if (this.out.length > 200_000) this.out = this.out.slice(-100_000);
    };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => p.once('exit', () => resolve()));
    // GET /connectors answers once the REST server and the herder are up, possibly before the first rebalance ends.
    await eventually(
      async () => {
        if (p.exitCode !== null) throw new Error(`worker exited (${p.exitCode}):\n${this.out}`);
        const r = await fetch(`${this.rest}/connectors`).catch(() => undefined);
        return r?.status === 200;
      },
      DEADLINE,
      250,
    ).catch((e) => {
      throw new Error(`worker REST not ready: ${e}\n${this.out}`);
    });
  }

  async kill(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }

  async get(p: string): Promise<any> {
    const r = await fetch(`${this.rest}${p}`);
    if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${await r.text()}`);
    return r.json();
  }

  async createConnector(name: string, config: Record<string, string>): Promise<void> {
    // A freshly joined worker may still answer 409 (rebalance in progress) for a moment.
    await eventually(
      async () => {
        const r = await fetch(`${this.rest}/connectors`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name, config }),
        });
        if (r.status === 201) return true;
        throw new Error(`POST /connectors ${name}: ${r.status} ${await r.text()}`);
      },
      DEADLINE,
      500,
    );
  }
}

interface Outcome {
  internalTopics: Record<string, { partitions: number; cleanupPolicy: string | undefined }>;
  group: { protocolType: string; protocol: string; members: number };
  /** How many distinct workers run the two connectors and their two tasks. */
  spread: number;
  firstSink: string[];
  afterRestartSink: string[];
  topicValues: string[];
  expected: string[];
}

/**
 * Waits until both connectors and their tasks are RUNNING on every worker of
 * the group (the leader's assignment spreads them, possibly over a few
 * cooperative rebalances) and returns on how many distinct workers they run;
 * fails with the last status seen if that does not happen in time.
 */
async function runningOn(worker: Worker): Promise<number> {
  let last: unknown;
  try {
    return await eventually(
      async () => {
        const st = await worker.get('/connectors?expand=status');
        last = st;
        const units = Object.values(st).flatMap((c: any) => [c.status.connector, ...c.status.tasks]);
        if (units.length !== 4 || !units.every((u: any) => u.state === 'RUNNING')) return false;
        const ids = new Set(units.map((u: any) => u.worker_id));
        return ids.size === WORKERS && ids.size;
      },
      DEADLINE,
      250,
    );
  } catch (e) {
    throw new Error(`connectors and tasks not RUNNING on all ${WORKERS} workers: ${JSON.stringify(last)} (${e})`);
  }
}

const readLines = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').slice(0, -1) : []);

function workerProps(bootstrap: string, restPort: number): string {
  return [
    `bootstrap.servers=${bootstrap}`,
    `group.id=${GROUP}`,
    'key.converter=org.apache.kafka.connect.storage.StringConverter',
    'value.converter=org.apache.kafka.connect.storage.StringConverter',
    'config.storage.topic=connect-configs',
    'offset.storage.topic=connect-offsets',
    'status.storage.topic=connect-status',
    'config.storage.replication.factor=1',
    'offset.storage.replication.factor=1',
    'status.storage.replication.factor=1',
    'offset.flush.interval.ms=500',
    // the connectors are found through their ServiceLoader manifests, not by scanning the classpath (seconds per start)
    'plugin.discovery=service_load',
    // a killed worker leaves the workers' group, and its sink task's consumer leaves the
    // connector's group, after 6 s (defaults 10 s and 45 s)
    'consumer.session.timeout.ms=6000',
    'consumer.heartbeat.interval.ms=1000',
    'session.timeout.ms=6000',
    'heartbeat.interval.ms=1000',
    // a lost worker's connectors and tasks move to the others after 3 s (default 5 min)
    'scheduled.rebalance.max.delay.ms=3000',
    `listeners=http://127.0.0.1:${restPort}`,
    'rest.advertised.host.name=127.0.0.1',
    `rest.advertised.port=${restPort}`,
    '',
  ].join('\n');
}

/** The whole scenario against one broker; returns what it observed for the assertions. */
async function runScenario(bootstrap: string, cp: string): Promise<Outcome> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-connect-'));
  const src = path.join(dir, 'in.txt');
  const sink = path.join(dir, 'out.txt');
  fs.writeFileSync(src, lines(1, FIRST).join('\n') + '\n');

  const workers: Worker[] = [];
  for (let i = 0; i < WORKERS; i++) {
    const restPort = await freePort();
    const props = path.join(dir, `worker-${i}.properties`);
    fs.writeFileSync(props, workerProps(bootstrap, restPort));
    workers.push(new Worker(cp, props, `http://127.0.0.1:${restPort}`));
  }
  const worker = workers[0];
  const kafka = new Kafka({ clientId: 'samsa-connect-test', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin: Admin = kafka.admin();
  await admin.connect();
  try {
    await Promise.all(workers.map((w) => w.start()));

    // the workers answer GET /connectors before their first rebalance ends (group.initial.rebalance.delay.ms)
    const g = await eventually(
      async () => {
        const d = (await admin.describeGroups([GROUP])).groups[0];
        return d.state === 'Stable' && d.members.length === WORKERS && d;
      },
      DEADLINE,
      250,
    );
    const group = { protocolType: g.protocolType, protocol: g.protocol, members: g.members.length };

    const internalTopics: Outcome['internalTopics'] = {};
    for (const t of Object.keys(INTERNAL_TOPICS)) {
      const md = await admin.fetchTopicMetadata({ topics: [t] });
      const cfg = await admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: t, configNames: ['cleanup.policy'] }],
        includeSynonyms: false,
      });
      internalTopics[t] = {
        partitions: md.topics[0].partitions.length,
        cleanupPolicy: cfg.resources[0].configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue,
      };
    }

    await worker.createConnector('file-source', {
      'connector.class': 'org.apache.kafka.connect.file.FileStreamSourceConnector',
      'tasks.max': '1',
      file: src,
      topic: DATA_TOPIC,
    });
    await worker.createConnector('file-sink', {
      'connector.class': 'org.apache.kafka.connect.file.FileStreamSinkConnector',
      'tasks.max': '1',
      file: sink,
      topics: DATA_TOPIC,
    });

    /** Waits until the sink has `n` lines and both connectors' stored offsets cover everything. */
    const settled = async (n: number) => {
      await eventually(() => readLines(sink).length >= n, DEADLINE, 200);
      const size = fs.statSync(src).size;
      await eventually(
        async () => {
          const so = await worker.get('/connectors/file-source/offsets');
          const ko = await worker.get('/connectors/file-sink/offsets');
          return so.offsets[0]?.offset?.position === size && ko.offsets[0]?.offset?.kafka_offset === n;
        },
        DEADLINE,
        250,
      );
    };

    await settled(FIRST);
    const firstSink = readLines(sink);
    const spread = await runningOn(worker);

    await Promise.all(workers.map((w) => w.kill()));
    fs.appendFileSync(src, lines(FIRST + 1, FIRST + MORE).join('\n') + '\n');
    await Promise.all(workers.map((w) => w.start()));
    await settled(FIRST + MORE);
    const afterRestartSink = readLines(sink);
    const topicValues = (await kcatConsume(bootstrap, DATA_TOPIC)).map((r) => r.payload ?? '');
    return {
      internalTopics,
      group,
      spread,
      firstSink,
      afterRestartSink,
      topicValues,
      expected: lines(1, FIRST + MORE),
    };
  } catch (e) {
    throw new Error(`${(e as Error).stack}\n${workers.map((w, i) => `worker ${i} output:\n${w.out}`).join('\n')}`);
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    await admin.disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function assertOutcome(o: Outcome): void {
  assert.deepEqual(o.internalTopics, {
    'connect-configs': { partitions: INTERNAL_TOPICS['connect-configs'], cleanupPolicy: 'compact' },
    'connect-offsets': { partitions: INTERNAL_TOPICS['connect-offsets'], cleanupPolicy: 'compact' },
    'connect-status': { partitions: INTERNAL_TOPICS['connect-status'], cleanupPolicy: 'compact' },
  });
  assert.deepEqual(o.group, { protocolType: 'connect', protocol: 'sessioned', members: WORKERS });
  assert.equal(o.spread, WORKERS, 'the connectors and tasks run on every worker of the group');
  assert.deepEqual(o.firstSink, o.expected.slice(0, FIRST), 'the sink file equals the source file');
  assert.deepEqual(o.topicValues, o.expected, 'each line in the topic once, in order, across the restart');
  assert.deepEqual(o.afterRestartSink, o.expected, 'after the restart the sink gained exactly the appended lines');
}

describe('Kafka Connect (distributed, FileStream source and sink) on Samsa', () => {
  let cp: string;
  let broker: ChildBroker;

  before(async () => {
    cp = await kafkaClasspath();
    broker = await startChildBroker();
  });
  after(async () => {
    await broker?.close();
  });

  test('a file through a Samsa topic and back, line for line; killed workers resume from their stored offsets', async () => {
    assertOutcome(await runScenario(broker.bootstrapServers, cp));
  });
});

describe('the same scenario on the reference Apache Kafka', () => {
  let cp: string;
  let ref: ReferenceKafka;

  before(async () => {
    cp = await kafkaClasspath();
    ref = await startReferenceKafka();
  });
  after(async () => {
    await ref?.stop();
  });

  test('the expectations hold on Kafka itself', async () => {
    assertOutcome(await runScenario(ref.bootstrapServers, cp));
  });
});
