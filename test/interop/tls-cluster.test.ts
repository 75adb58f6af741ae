/**
 * Three in-process brokers, each with a PLAINTEXT, an SSL and a CONTROLLER
 * listener (also SSL: the quorum's Raft, broker registration and
 * heartbeats, forwarding and AlterPartition go over mutual TLS too),
 * inter.broker.listener.name=SSL with ssl.client.auth=required:
 * the replica fetchers reach the leaders at their SSL addresses (the only
 * ones they look up), with the broker's own certificate as client
 * certificate, so followers that catch up prove replication over mutual
 * TLS. Clients on each listener are told the brokers' addresses on that
 * listener, and kcat produces with acks=all over SSL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, uniqueTopic } from '../helpers/broker.ts';
import { type Pki, makePki } from '../helpers/certs.ts';
import {
  type InProcessCluster,
  createTopic,
  partitionState,
  startInProcessCluster,
} from '../helpers/inprocess-cluster.ts';
import { KCAT, runOk } from '../helpers/proc.ts';
import { parseKcatJson } from '../helpers/kcat.ts';

describe('3 brokers replicating over an SSL inter-broker listener, SSL controller listener', () => {
  let pki: Pki;
  let cluster: InProcessCluster;

  before(async () => {
    pki = makePki();
    const server = pki.issue('broker', '/O=Samsa/CN=localhost');
    cluster = await startInProcessCluster({
      nodes: 3,
      ssl: true,
      overrides: {
        'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:SSL',
        'inter.broker.listener.name': 'SSL',
        'ssl.keystore.type': 'PEM',
        'ssl.keystore.location': server.keystore,
        'ssl.truststore.type': 'PEM',
        'ssl.truststore.location': pki.ca,
        'ssl.client.auth': 'required',
        'offsets.topic.replication.factor': '3',
      },
    });
  });

  after(async () => {
    await cluster?.close();
    pki?.cleanup();
  });

  test('Metadata names each broker at the listener asked; RF=3 over SSL keeps the ISR full', async () => {
    const [n1] = cluster.nodes;
    const ssl = ['-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${pki.ca}`];
    const client = pki.issue('client', '/CN=client');
    const mtls = [...ssl, '-X', `ssl.certificate.location=${client.cert}`, '-X', `ssl.key.location=${client.key}`];
    const names = async (port: number, extra: string[]) => {
      const r = await runOk(KCAT, ['-b', `127.0.0.1:${port}`, '-L', '-J', ...extra]);
      const md = JSON.parse(r.stdout) as { brokers: { id: number; name: string }[] };
      return md.brokers.map((b) => `${b.id}=${b.name}`).sort();
    };
    await eventually(async () => (await names(n1.clientPort, [])).length === 3, 60_000);
    assert.deepEqual(
      await names(n1.clientPort, []),
      cluster.nodes.map((n) => `${n.id}=127.0.0.1:${n.clientPort}`),
    );
    assert.deepEqual(
      await names(n1.sslPort, mtls),
      cluster.nodes.map((n) => `${n.id}=127.0.0.1:${n.sslPort}`),
    );

    const topic = uniqueTopic('tls-repl');
    await createTopic(n1.clientPort, topic, { partitions: 1, replicationFactor: 3 });
    const bs = cluster.nodes.map((n) => `127.0.0.1:${n.sslPort}`).join(',');
    const input = `${Array.from({ length: 50 }, (_, i) => `r${i}`).join('\n')}\n`;
    await runOk(KCAT, ['-b', bs, '-P', '-t', topic, '-X', 'acks=all', ...mtls], { input, timeoutMs: 60_000 });
    // every replica fetched the records over SSL: the ISR is full and the high watermark is at the end
    const state = await eventually(async () => {
      const s = await partitionState(n1.clientPort, topic);
      return s && s.isr.length === 3 ? s : undefined;
    }, 60_000);
    assert.deepEqual(state.isr, [1, 2, 3]);
    // the followers hold the records: stop the leader, a follower leads with all of them
    const leader = state.leader;
    await cluster.stop(leader);
    const other = cluster.live()[0];
    const moved = await eventually(async () => {
      const s = await partitionState(other.clientPort, topic);
      return s && s.leader >= 0 && s.leader !== leader ? s : undefined;
    }, 60_000);
    assert.notEqual(moved.leader, leader);
    const r = await runOk(KCAT, [
      '-b',
      `127.0.0.1:${other.sslPort}`,
      '-C',
      '-t',
      topic,
      '-o',
      'beginning',
      '-e',
      '-J',
      '-q',
      ...mtls,
    ]);
    assert.deepEqual(
      parseKcatJson(r.stdout).map((x) => x.payload),
      Array.from({ length: 50 }, (_, i) => `r${i}`),
    );
  });
});
