/**
 * The bounded fault campaign of `npm test` (test/fault/nemesis.ts): three
 * Samsa processes, each in its own network namespace, a topic with RF=3 and
 * min.insync.replicas=2, two idempotent acks=all producers and a consumer
 * (confluent-kafka-python) running throughout, while a seeded nemesis kills
 * (-9) and restarts brokers, pauses them, isolates them and drops one
 * direction of traffic. The checker's verdict: every acknowledged record read
 * back exactly once, at the offset it was acknowledged with, in order per
 * partition; nothing twice; what the consumer saw during the faults still
 * there; all replicas byte-identical below the high watermark after healing.
 * The seed is fixed (SAMSA_NEMESIS_SEED overrides it) and printed with the
 * figures; longer campaigns: `npm run nemesis -- --minutes M`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { netnsUnsupported } from '../fault/netns.ts';
import { runCampaign } from '../fault/nemesis.ts';

const SEED = Number(process.env.SAMSA_NEMESIS_SEED ?? 1919);
const SECONDS = Number(process.env.SAMSA_NEMESIS_SECONDS ?? 100);

test(`nemesis (seed ${SEED}, ${SECONDS} s of faults): nothing acknowledged lost, nothing duplicated, replicas identical`, async () => {
  const why = netnsUnsupported();
  assert.equal(why, undefined, `the fault test ${why}`);
  const lines: string[] = [];
  const r = await runCampaign({
    seed: SEED,
    durationMs: SECONDS * 1000,
    log: (l) => {
      lines.push(l);
      console.log(l);
    },
  });
  assert.ok(r.verdict.acknowledged > 0, 'the producers had records acknowledged');
  assert.ok(r.events.length > 0, 'the nemesis injected faults');
  assert.ok(r.verdict.ok, r.summary);
  assert.deepEqual(r.clientErrors, [], `no fatal client errors\n${r.summary}`);
  assert.ok(
    !r.slowRecoveries.includes('final heal'),
    `a full ISR on every partition after the final heal\n${r.summary}`,
  );
});
