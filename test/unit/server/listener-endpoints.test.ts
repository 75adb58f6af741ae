/**
 * Several listeners: the address of a broker given to a client is the one of
 * the listener the client's request came in on; a broker without that
 * listener is left out (Metadata, DescribeCluster, KIP-951 node endpoints),
 * as in Kafka. A request from a listener this node does not serve clients on
 * (or none known) gets the first client listener, as before listeners had names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Broker, brokerAddress } from '../../../src/server/broker.ts';
import type { BrokerState } from '../../../src/metadata/image.ts';
import { nodeEndpoints } from '../../../src/server/leader-hints.ts';

function state(nodeId: number, listeners: [string, number][]): BrokerState {
  return {
    nodeId,
    incarnationId: 'x',
    listeners: listeners.map(([name, port]) => ({ name, host: `b${nodeId}`, port })),
    rack: null,
    brokerEpoch: 1,
    fenced: false,
    inControlledShutdown: false,
  };
}

const me = state(1, [
  ['PLAINTEXT', 9092],
  ['SSL', 9093],
]);
const twin = state(2, [
  ['PLAINTEXT', 9092],
  ['SSL', 9093],
]);
const plainOnly = state(3, [['PLAINTEXT', 9092]]);
const brokers = new Map([me, twin, plainOnly].map((b) => [b.nodeId, b]));
const broker = {
  nodeId: 1,
  advertised: { host: 'me.example', port: 9092 },
  advertisedListeners: new Map([
    ['PLAINTEXT', { host: 'me.example', port: 9092 }],
    ['SSL', { host: 'me.example', port: 9093 }],
  ]),
  image: { brokers, isLive: (id: number) => brokers.has(id) },
} as unknown as Broker;

test('each broker at the address of the request listener; a broker without it is left out', () => {
  assert.deepEqual(brokerAddress(broker, me, 'SSL'), { host: 'me.example', port: 9093 });
  assert.deepEqual(brokerAddress(broker, twin, 'SSL'), { host: 'b2', port: 9093 });
  assert.equal(brokerAddress(broker, plainOnly, 'SSL'), undefined);
  assert.deepEqual(brokerAddress(broker, plainOnly, 'PLAINTEXT'), { host: 'b3', port: 9092 });
});

test('a listener this node does not serve clients on, or none: the first client listener', () => {
  const at = (a: { host: string; port: number } | undefined) => a && `${a.host}:${a.port}`;
  assert.equal(at(brokerAddress(broker, me, 'CONTROLLER')), 'me.example:9092');
  assert.equal(at(brokerAddress(broker, twin, 'CONTROLLER')), 'b2:9092');
  assert.equal(at(brokerAddress(broker, twin, undefined)), 'b2:9092');
});

test('KIP-951 node endpoints follow the request listener', () => {
  assert.deepEqual(
    nodeEndpoints(broker, [1, 2, 3], 'SSL').map((e) => `${e.nodeId}=${e.host}:${e.port}`),
    ['1=me.example:9093', '2=b2:9093'],
  );
  assert.deepEqual(
    nodeEndpoints(broker, [3, 2], 'PLAINTEXT').map((e) => `${e.nodeId}=${e.host}:${e.port}`),
    ['3=b3:9092', '2=b2:9092'],
  );
});
