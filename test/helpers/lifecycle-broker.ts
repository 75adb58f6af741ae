/**
 * A broker process reduced to its lifecycle: registers with the controller at
 * 127.0.0.1:<port> as node <id>, heartbeats, and prints "unfenced <epoch>"
 * once the controller has unfenced it. Tests kill it to see what the
 * controller does with a broker that dies.
 *
 *   node --import tsx test/helpers/lifecycle-broker.ts <controller-port> <node-id>
 */
import { BrokerLifecycle, clientConnector } from '../../src/server/broker-lifecycle.ts';

const port = Number(process.argv[2]);
const nodeId = Number(process.argv[3] ?? 1);
let offset = -1;
const lifecycle = new BrokerLifecycle({
  nodeId,
  clusterId: () => 'c',
  listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 19000 + nodeId }],
  rack: null,
  heartbeatIntervalMs: 2000,
  controllerId: () => 100,
  controllerEndpoint: () => ({ host: '127.0.0.1', port }),
  // No image here: it reports having seen everything up to its registration.
  metadataOffset: () => offset,
  connect: clientConnector({ clientId: `broker-${nodeId}` }),
});
lifecycle.start();
const poll = setInterval(() => {
  const { brokerEpoch } = lifecycle.state;
  if (brokerEpoch >= 0 && offset < brokerEpoch) {
    offset = brokerEpoch;
    lifecycle.metadataAdvanced();
  }
}, 10);
await lifecycle.whenUnfenced();
clearInterval(poll);
process.stdout.write(`unfenced ${lifecycle.state.brokerEpoch}\n`);
