/**
 * Automatic topic creation follows Kafka: with auto.create.topics.enable=true
 * a Metadata request that allows it creates the topic; a Produce to an
 * unknown topic is answered UNKNOWN_TOPIC_OR_PARTITION and creates nothing
 * (so a producer still running after a topic's deletion cannot bring it back).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';
import { Connection } from '../../../src/client/connection.ts';
import { KafkaClient } from '../../../src/client/client.ts';
import { encodeBatch } from '../../../src/protocol/records/index.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';

let broker: EmbeddedBroker;
let client: KafkaClient;
let conn: Connection;

before(async () => {
  broker = await startBroker({});
  client = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'auto-create-test' });
  const [host, port] = broker.bootstrapServers.split(':');
  conn = new Connection({ host, port: Number(port), clientId: 'auto-create-test', requestTimeoutMs: 10_000 });
  await conn.connect();
});

after(async () => {
  await conn.close();
  await client.close();
  await broker.close();
});

const topicNames = async () => (await client.metadata()).topics.map((t) => t.name);

function produce(topic: string) {
  return conn.send('Produce', {
    transactionalId: null,
    acks: 1,
    timeoutMs: 5000,
    topicData: [
      {
        name: topic,
        partitionData: [
          { index: 0, records: encodeBatch({ baseTimestamp: Date.now(), records: [{ value: Buffer.from('v') }] }) },
        ],
      },
    ],
  });
}

test('Produce to an unknown topic: UNKNOWN_TOPIC_OR_PARTITION, and the topic is not created', async () => {
  const res = await produce('never-asked-for');
  assert.equal(res.responses[0].partitionResponses[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.ok(!(await topicNames()).includes('never-asked-for'));
});

test('Metadata allowing auto-creation creates it; then Produce succeeds', async () => {
  const md = await client.metadata(['asked-for'], { allowAutoTopicCreation: true });
  assert.equal(md.topics[0].name, 'asked-for');
  assert.ok((await topicNames()).includes('asked-for'));
  const res = await produce('asked-for');
  assert.equal(res.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
});
