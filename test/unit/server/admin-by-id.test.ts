/**
 * Requests as Kafka's Java Admin client sends them: Metadata naming a topic
 * by id with an empty name (not null) finds the topic by its id, and
 * CreateTopics with validateOnly answers the configs the topic would have.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadBrokerConfig } from '../../../src/config/broker-config.ts';
import { startBroker } from '../../../src/server/index.ts';
import { Connection } from '../../../src/client/connection.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';

const DYNAMIC_TOPIC_CONFIG = 1;
const DEFAULT_CONFIG = 5;

test('Metadata by topic id with an empty name, and CreateTopics validateOnly configs', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-admin-by-id-'));
  const config = loadBrokerConfig({
    overrides: { listeners: 'PLAINTEXT://127.0.0.1:0', 'log.dirs': dir, 'auto.create.topics.enable': 'false' },
  });
  const b = await startBroker({ config, logger: pino({ level: 'silent' }) });
  const c = new Connection({ host: b.host, port: b.port, clientId: 'admin-by-id', requestTimeoutMs: 60_000 });
  try {
    await c.connect();
    const created = await c.send('CreateTopics', {
      topics: [{ name: 'by-id', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 30_000,
      validateOnly: false,
    });
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
    const id = created.topics[0].topicId;

    const unknownId = 'AAECAwQFBgcICQoLDA0ODw';
    const md = await c.send('Metadata', {
      topics: [
        { topicId: id, name: '' },
        { topicId: unknownId, name: '' },
      ],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    assert.deepEqual(
      md.topics.map((t: any) => [t.name, t.topicId, t.errorCode, t.partitions.length]),
      [
        ['by-id', id, ErrorCode.NONE, 2],
        [null, unknownId, ErrorCode.UNKNOWN_TOPIC_ID, 0],
      ],
    );

    const v = await c.send('CreateTopics', {
      topics: [
        {
          name: 'validate-only',
          numPartitions: 3,
          replicationFactor: 1,
          assignments: [],
          configs: [{ name: 'retention.ms', value: '5000' }],
        },
      ],
      timeoutMs: 30_000,
      validateOnly: true,
    });
    const t = v.topics[0];
    assert.equal(t.errorCode, ErrorCode.NONE);
    assert.equal(t.numPartitions, 3);
    assert.ok(t.configs, 'configs are answered');
    const byName = new Map(t.configs.map((e: any) => [e.name, e]));
    assert.deepEqual(
      [byName.get('retention.ms')?.value, byName.get('retention.ms')?.configSource],
      ['5000', DYNAMIC_TOPIC_CONFIG],
    );
    assert.deepEqual(
      [byName.get('segment.bytes')?.value, byName.get('segment.bytes')?.configSource],
      ['1073741824', DEFAULT_CONFIG],
    );
    const after = await c.send('Metadata', {
      topics: null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    assert.deepEqual(
      after.topics.map((x: any) => x.name),
      ['by-id'],
      'validateOnly created nothing',
    );
  } finally {
    await c.close();
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
