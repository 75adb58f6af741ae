/**
 * DescribeLogDirs (35) answers for this broker's own log dirs: each hosted
 * partition under the dir that holds it (not under a dir whose name is a
 * prefix of it), with its size; a topic list narrows the answer.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeLogDirsHandler } from '../../../src/server/handlers/cluster.ts';
import type { Broker } from '../../../src/server/broker.ts';
import type { RequestContext } from '../../../src/server/dispatcher.ts';
import type { DescribeLogDirsResponseInput } from '../../../src/protocol/generated/messages.ts';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-logdirs-'));
after(() => fs.rmSync(base, { recursive: true, force: true }));

test('each partition is listed under its own log dir, with its size', async () => {
  const d1 = path.join(base, 'node-1');
  const d10 = path.join(base, 'node-10');
  const part = (dir: string, topic: string, index: number, size: number) => ({
    topic: { name: topic },
    index,
    log: { dir: path.join(dir, `${topic}-${index}`), size },
  });
  const hosted = [part(d1, 'a', 0, 100), part(d10, 'a', 1, 200), part(d10, 'b', 0, 300)];
  const b = { config: { logDirs: [d1, d10] }, replicas: { all: () => hosted.values() } } as unknown as Broker;
  const h = describeLogDirsHandler(b);
  const ctx = { apiVersion: 4 } as RequestContext;
  const all = (await h({ topics: null }, ctx)) as DescribeLogDirsResponseInput;
  const byDir = Object.fromEntries(
    all.results.map((r) => [
      path.basename(r.logDir),
      r.topics.flatMap((t) => t.partitions.map((p) => `${t.name}-${p.partitionIndex}:${p.partitionSize}`)),
    ]),
  );
  assert.deepEqual(byDir, { 'node-1': ['a-0:100'], 'node-10': ['a-1:200', 'b-0:300'] });
  const some = (await h({ topics: [{ topic: 'a', partitions: [1] }] }, ctx)) as DescribeLogDirsResponseInput;
  assert.deepEqual(
    some.results.map((r) => r.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)])),
    [[], [['a', [1]]]],
  );
});
