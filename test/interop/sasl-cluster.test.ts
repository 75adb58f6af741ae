/**
 * Three brokers whose client listener is SASL_PLAINTEXT: they replicate to
 * each other authenticated with sasl.mechanism.inter.broker.protocol and the
 * username/password of the listener's JAAS entry (acks=all with
 * min.insync.replicas=3 succeeds only once both followers fetch); without
 * usable inter-broker credentials a node of such a cluster does not start.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaClient } from '../../src/client/client.ts';
import { ConfigError, loadBrokerConfig } from '../../src/config/broker-config.ts';
import { saslServerConfig } from '../../src/security/sasl/index.ts';
import pino from 'pino';
import { eventually, uniqueTopic } from '../helpers/broker.ts';
import { type InProcessCluster, startInProcessCluster } from '../helpers/inprocess-cluster.ts';
import { PLAIN_JAAS } from '../helpers/sasl.ts';

const SASL = {
  'listener.security.protocol.map': 'PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
  'sasl.enabled.mechanisms': 'PLAIN',
  'sasl.mechanism.inter.broker.protocol': 'PLAIN',
  'listener.name.plaintext.plain.sasl.jaas.config': PLAIN_JAAS,
};

describe('SASL between brokers', () => {
  let cluster: InProcessCluster;
  before(async () => {
    cluster = await startInProcessCluster({ nodes: 3, overrides: { ...SASL, 'min.insync.replicas': '3' } });
  });
  after(async () => {
    await cluster?.close();
  });

  test('followers fetch over the SASL listener: acks=all with min.insync.replicas=3 succeeds', async () => {
    const client = new KafkaClient({
      bootstrapServers: cluster.bootstrap(),
      security: { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' } },
      retries: 10,
    });
    try {
      const topic = uniqueTopic('sasl-repl');
      await client.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 3 }]);
      await eventually(async () => {
        const r = await client.produce(topic, 0, [{ key: null, value: Buffer.from('replicated') }], { acks: -1 });
        return r.baseOffset >= 0;
      }, 60_000);
    } finally {
      await client.close();
    }
  });

  test('a node of a multi-node cluster without inter-broker credentials does not start', () => {
    const config = loadBrokerConfig({
      overrides: {
        ...SASL,
        'listener.name.plaintext.plain.sasl.jaas.config':
          'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";',
        listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:1',
        'controller.quorum.voters': '1@127.0.0.1:1,2@127.0.0.1:2',
        'log.dirs': '/tmp/never-used',
      },
    });
    assert.throws(
      () => saslServerConfig(config, pino({ level: 'silent' })),
      (e: Error) => e instanceof ConfigError && /needs username="..." password="..."/.test(e.message),
    );
  });
});
