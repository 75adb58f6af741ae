/**
 * Kafka Streams (Apache Kafka 4.3.1) on Samsa, checked against the reference
 * Kafka: test/interop/java/streams/StreamsScenarios.java runs one topology
 * with a word count (a repartition by word, a counting key-value store), a
 * stream-table join (clicks re-keyed by user, joined with a users KTable) and
 * a windowed aggregation (sums per sensor over 10 s tumbling windows of fixed
 * event times), at_least_once, against each broker; then restarts it with an
 * empty state directory after more input, so that its stores come back from
 * their changelog topics and its input resumes from the committed offsets.
 * The output must be exactly the expected one on both brokers, as must the
 * internal topics Streams creates with their configs, the group the Streams
 * assignor forms, and the repartition records Streams deletes once consumed.
 *
 * exactly_once_v2 (transactions: the transaction coordinator, read_committed)
 * must produce the same counts on both brokers.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChildBroker, uniqueTopic, type ChildBroker } from '../helpers/broker.ts';
import { compileJava, runJava, startReferenceKafka, type ReferenceKafka } from '../helpers/kafka-ref.ts';

const COUNTS_1 = {
  a: '2',
  barks: '1',
  brown: '1',
  dog: '3',
  fox: '2',
  jumps: '1',
  lazy: '1',
  over: '1',
  quick: '1',
  the: '3',
};
const JOINS_1 = ['alice=eu/cart', 'alice=eu/home', 'bob=us/cart'];
const WINDOWS_1 = { 's1@0': '12', 's1@10000': '2', 's1@20000': '10', 's2@0': '1', 's2@10000': '4' };
const COUNTS_2 = { ...COUNTS_1, days: '1', dog: '4', fox: '3', returns: '1', the: '4' };
const JOINS_2 = [...JOINS_1, 'bob=us/checkout', 'carol=apac/home'];
const WINDOWS_2 = { ...WINDOWS_1, 's1@0': '112', 's2@10000': '10', 's2@30000': '3' };

const REPARTITION_CONFIGS = {
  'cleanup.policy': 'delete',
  'message.timestamp.type': 'CreateTime',
  'retention.ms': '-1',
  'segment.bytes': '52428800',
};
const INTERNAL_TOPICS = {
  'by-word-repartition': { partitions: 2, configs: REPARTITION_CONFIGS },
  'clicks-by-user-repartition': { partitions: 2, configs: REPARTITION_CONFIGS },
  'users-changelog': {
    partitions: 2,
    configs: { 'cleanup.policy': 'compact', 'message.timestamp.type': 'CreateTime' },
  },
  'word-counts-changelog': {
    partitions: 2,
    configs: { 'cleanup.policy': 'compact', 'message.timestamp.type': 'CreateTime' },
  },
  // window retention (10 s + 30 min grace) + windowstore.changelog.additional.retention.ms (1 day)
  'window-sums-changelog': {
    partitions: 2,
    configs: { 'cleanup.policy': 'compact,delete', 'message.timestamp.type': 'CreateTime', 'retention.ms': '88210000' },
  },
};

type Line = Record<string, any>;

/** Runs one scenario of StreamsScenarios against `bootstrap`; returns its JSON lines by phase. */
async function scenario(
  cp: string,
  bootstrap: string,
  name: 'at_least_once' | 'exactly_once_v2',
): Promise<Record<string, Line>> {
  // event times are offsets from a recent 10 s boundary (recent, so that no retention.ms deletes them)
  const base = Math.floor(Date.now() / 10_000) * 10_000 - 300_000;
  const r = await runJava(cp, 'StreamsScenarios', [bootstrap, uniqueTopic('st'), String(base), name], {
    timeoutMs: 280_000,
  });
  const byPhase: Record<string, Line> = {};
  for (const l of r.stdout.split('\n')) {
    if (!l.startsWith('{')) continue;
    const o = JSON.parse(l);
    byPhase[o.phase ?? 'fatal'] = o;
  }
  const context = `${bootstrap} ${name}: code ${r.code} signal ${r.signal}\nstdout:\n${r.stdout}\nstderr (tail):\n${r.stderr.slice(-6000)}`;
  assert.equal(r.code, 0, context);
  return Object.assign(byPhase, { context: { text: context } });
}

describe('Kafka Streams 4.3.1 on Samsa, checked against Apache Kafka 4.3.1', () => {
  let cp: string;
  let samsa: ChildBroker;
  let kafka: ReferenceKafka;

  before(async () => {
    [cp, samsa, kafka] = await Promise.all([
      compileJava('streams'),
      // as the reference Kafka runs (scripts/kafka-ref.sh): the first rebalance does not wait
      startChildBroker({ overrides: { 'group.initial.rebalance.delay.ms': '0' } }),
      startReferenceKafka(),
    ]);
  });

  after(async () => {
    await Promise.all([samsa?.close(), kafka?.stop()]);
  });

  test('at_least_once: word count, stream-table join, windowed sums; a restart restores the stores and resumes', {
    timeout: 300_000,
  }, async () => {
    const [s, k] = await Promise.all([
      scenario(cp, samsa.bootstrapServers, 'at_least_once'),
      scenario(cp, kafka.bootstrapServers, 'at_least_once'),
    ]);
    for (const [broker, r] of [
      ['kafka', k],
      ['samsa', s],
    ] as const) {
      const msg = `${broker}: ${r.context.text}`;
      const first = r['first-run'];
      const second = r.restart;
      assert.ok(first && second, msg);
      assert.equal(first.error, null, msg);
      assert.deepEqual(first.counts, COUNTS_1, msg);
      assert.deepEqual(first.joins, JOINS_1, msg);
      assert.deepEqual(first.windows, WINDOWS_1, msg);
      // the internal topics Streams created, with the configs it asked for
      assert.deepEqual(first.internalTopics, INTERNAL_TOPICS, msg);
      // one member in a classic group, assigned by the Streams assignor
      assert.deepEqual(first.group, { assignor: 'stream', state: 'Stable', members: 1, type: 'Classic' }, msg);
      // consumed repartition records deleted (DeleteRecords): each topic's log starts at its end
      assert.deepEqual(first.repartitionStart, { 'by-word-repartition': 16, 'clicks-by-user-repartition': 4 }, msg);
      assert.equal(first.stateAfterClose, 'NOT_RUNNING', msg);
      // every input record's offset committed by the close
      assert.deepEqual(first.committed, { clicks: 4, readings: 6, users: 3, words: 4 }, msg);

      // After the restart the output is the cumulative result: no input read
      // twice (committed offsets), and the counts, the table and the window
      // sums carried over (restored from the changelogs into an empty state dir).
      assert.equal(second.error, null, msg);
      assert.deepEqual(second.counts, COUNTS_2, msg);
      assert.deepEqual(second.joins, JOINS_2, msg);
      assert.deepEqual(second.windows, WINDOWS_2, msg);
      // records restored per store: one per changelog write before the restart
      assert.deepEqual(second.restored, { users: 3, 'window-sums': 6, 'word-counts': 16 }, msg);
    }
  });

  test('exactly_once_v2: the same counts on Kafka and on Samsa', {
    timeout: 300_000,
  }, async () => {
    const [s, k] = await Promise.all([
      scenario(cp, samsa.bootstrapServers, 'exactly_once_v2'),
      scenario(cp, kafka.bootstrapServers, 'exactly_once_v2'),
    ]);
    for (const r of [k, s]) {
      const e = r.exactly_once_v2;
      assert.ok(e, r.context.text);
      assert.equal(e.error, null, r.context.text);
      assert.equal(e.initTransactions, 'ok', r.context.text);
      assert.deepEqual(e.counts, COUNTS_1, r.context.text);
    }
  });
});
