/**
 * Runs the differential sequences against two brokers, the reference Kafka
 * and Samsa: each case at each version both serve, the decoded answers
 * compared field by field (compare.ts) after the allow-list (allow-list.ts).
 */
import { Connection } from '../../../src/client/connection.ts';
import { apiByKey, apiByName } from '../../../src/protocol/apis.ts';
import type { ApiName } from '../../../src/protocol/generated/messages.ts';
import { ALLOW_LIST } from './allow-list.ts';
import { type Outcome, type Plain, compareResponses } from './compare.ts';
import { CASES, FIXTURE_TOPICS, type Case, type State, waitForLeaders } from './sequences.ts';

export interface Side {
  name: 'kafka' | 'samsa';
  host: string;
  port: number;
  conn: Connection;
  state: State;
  /** The version ranges this broker advertises, by API key. */
  ranges: Map<number, { min: number; max: number }>;
}

/** A difference with both answers, for the log of a run. */
export interface Detail extends Outcome {
  kafka?: Plain;
  samsa?: Plain;
}

export interface RunResult {
  outcomes: Outcome[];
  details: Detail[];
  /** APIs Kafka serves and Samsa does not, or serves at fewer versions. */
  notServed: { api: string; kafka: string; samsa: string }[];
}

const UNTIL_DEADLINE_MS = 30_000;

/** Names of the API keys Kafka 4.3 advertises that Samsa has no declaration for. */
const UNDECLARED_NAMES: Record<number, string> = {
  34: 'AlterReplicaLogDirs',
  38: 'CreateDelegationToken',
  39: 'RenewDelegationToken',
  40: 'ExpireDelegationToken',
  41: 'DescribeDelegationToken',
  48: 'DescribeClientQuotas',
  49: 'AlterClientQuotas',
  57: 'UpdateFeatures',
  64: 'UnregisterBroker',
  74: 'ListConfigResources',
  75: 'DescribeTopicPartitions',
  76: 'ShareGroupHeartbeat',
  77: 'ShareGroupDescribe',
  78: 'ShareFetch',
  79: 'ShareAcknowledge',
  80: 'AddRaftVoter',
  81: 'RemoveRaftVoter',
  83: 'InitializeShareGroupState',
  84: 'ReadShareGroupState',
  85: 'WriteShareGroupState',
  86: 'DeleteShareGroupState',
  87: 'ReadShareGroupStateSummary',
  88: 'StreamsGroupHeartbeat',
  89: 'StreamsGroupDescribe',
  90: 'DescribeShareGroupOffsets',
  91: 'AlterShareGroupOffsets',
  92: 'DeleteShareGroupOffsets',
};

async function connect(host: string, port: number): Promise<Connection> {
  const c = new Connection({ host, port, clientId: 'samsa-diff', requestTimeoutMs: 30_000 });
  await c.connect();
  return c;
}

export async function openSide(name: Side['name'], host: string, port: number): Promise<Side> {
  const conn = await connect(host, port);
  const res = await conn.sendAt(apiByName('ApiVersions'), 3, {
    clientSoftwareName: 'samsa-diff',
    clientSoftwareVersion: '1.0',
  });
  const ranges = new Map<number, { min: number; max: number }>();
  for (const k of res.apiKeys) ranges.set(k.apiKey, { min: k.minVersion, max: k.maxVersion });
  return { name, host, port, conn, ranges, state: { topicIds: new Map(), vars: {} } };
}

/** Sends one request, repeating it while `until` rejects the answer; reconnects after a closed connection. */
async function exchange(side: Side, api: ApiName, v: number, c: Case): Promise<unknown> {
  if (!side.conn.isOpen) side.conn = await connect(side.host, side.port);
  await c.prepare?.(side.conn, v, side.state);
  const deadline = Date.now() + UNTIL_DEADLINE_MS;
  for (;;) {
    const res = await side.conn.sendAt(apiByName(api), v, c.body(v, side.state));
    if (!c.until || c.until(res) || Date.now() > deadline) {
      c.save?.(res, v, side.state);
      return res;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The versions a case runs at: what both brokers serve, the declaration covers, and the case allows. */
function versionsOf(c: Case, a: Side, b: Side): number[] {
  const api = apiByName(c.api);
  const ra = a.ranges.get(api.key);
  const rb = b.ranges.get(api.key);
  if (!ra || !rb) return [];
  const lo = Math.max(ra.min, rb.min, api.minVersion, c.minVersion ?? 0);
  const hi = Math.min(ra.max, rb.max, api.maxVersion, c.maxVersion ?? Infinity);
  const out = [];
  for (let v = lo; v <= hi; v++) out.push(v);
  return out;
}

/** Creates the fixture topics on one broker and waits until every partition has a leader; keeps the topic ids. */
async function setup(side: Side): Promise<void> {
  const create: Case = {
    api: 'CreateTopics',
    name: 'fixture',
    body: () => ({
      topics: FIXTURE_TOPICS.map((t) => ({
        name: t.name,
        numPartitions: t.partitions,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(t.configs).map(([name, value]) => ({ name, value })),
      })),
      timeoutMs: 10_000,
      validateOnly: false,
    }),
  };
  const res: any = await exchange(side, 'CreateTopics', 5, create);
  for (const t of res.topics)
    if (t.errorCode !== 0) throw new Error(`${side.name}: creating ${t.name}: error ${t.errorCode}`);
  for (const t of FIXTURE_TOPICS) await waitForLeaders(side.conn, t.name, t.partitions);
  const meta = await side.conn.sendAt(apiByName('Metadata'), 12, {
    topics: FIXTURE_TOPICS.map((t) => ({ name: t.name })),
    allowAutoTopicCreation: false,
  });
  for (const t of meta.topics) side.state.topicIds.set(t.name!, t.topicId);
}

function describe(e: unknown): string {
  return (e as Error).message.replace(/127\.0\.0\.1:\d+/g, 'HOST:PORT');
}

export async function runDifferential(kafka: Side, samsa: Side, cases: readonly Case[] = CASES): Promise<RunResult> {
  await Promise.all([setup(kafka), setup(samsa)]);
  const outcomes: Outcome[] = [];
  const details: Detail[] = [];
  for (const c of cases) {
    for (const v of versionsOf(c, kafka, samsa)) {
      // The two brokers are independent: send to both at once.
      const [k, s] = await Promise.allSettled([exchange(kafka, c.api, v, c), exchange(samsa, c.api, v, c)]);
      let o: Detail;
      if (k.status === 'fulfilled' && s.status === 'fulfilled') {
        const r = compareResponses(c.api, k.value, s.value, ALLOW_LIST);
        o = { api: c.api, version: v, caseName: c.name, paths: r.paths, kafka: r.kafka, samsa: r.samsa };
      } else {
        const why = (x: PromiseSettledResult<unknown>) => (x.status === 'rejected' ? describe(x.reason) : 'answered');
        const paths = [
          k.status === 'rejected' ? 'kafka failed' : '',
          s.status === 'rejected' ? 'samsa failed' : '',
        ].filter(Boolean);
        o = { api: c.api, version: v, caseName: c.name, paths, kafka: why(k), samsa: why(s) };
      }
      outcomes.push({ api: o.api, version: o.version, caseName: o.caseName, paths: o.paths });
      if (o.paths.length > 0) details.push(o);
    }
  }
  // APIs both serve that no case covers yet: listed in the table, so that a gap is visible.
  const covered = new Set(outcomes.map((o) => o.api));
  for (const [key, kr] of samsa.ranges) {
    const api = apiByKey(key);
    const sr = kafka.ranges.get(key);
    if (!api || !sr || covered.has(api.name)) continue;
    for (let v = Math.max(kr.min, sr.min); v <= Math.min(kr.max, sr.max); v++)
      outcomes.push({ api: api.name, version: v, caseName: '', paths: ['no case yet'] });
  }
  const notServed: RunResult['notServed'] = [];
  for (const [key, kr] of [...kafka.ranges].sort((a, b) => a[0] - b[0])) {
    const sr = samsa.ranges.get(key);
    const name = apiByKey(key)?.name ?? UNDECLARED_NAMES[key] ?? `key ${key}`;
    if (!sr || sr.max < kr.max || sr.min > kr.min) {
      const span = (r: { min: number; max: number }) => (r.min === r.max ? `v${r.min}` : `v${r.min}–v${r.max}`);
      notServed.push({ api: `${name} (${key})`, kafka: span(kr), samsa: sr ? span(sr) : 'not served' });
    }
  }
  return { outcomes, details, notServed };
}
