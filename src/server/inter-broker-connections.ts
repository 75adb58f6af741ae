/**
 * Connections from this broker to other brokers for requests it makes on its
 * own behalf (transaction markers, partition verification): one per broker,
 * opened on first use at the broker's inter-broker listener address with the
 * inter-broker TLS/SASL settings, dropped on failure so the next use opens a
 * new one.
 */
import { Connection } from '../client/connection.ts';
import { interBrokerSecurity } from '../security/sasl/config.ts';
import { interBrokerListener } from '../security/tls.ts';
import type { Broker } from './broker.ts';
import { brokerEndpoint } from './replica-fetcher.ts';

export class InterBrokerConnections {
  private readonly conns = new Map<number, Promise<Connection>>();
  private closed = false;

  constructor(
    private readonly b: Broker,
    private readonly clientId: string,
  ) {}

  /** The connection to `nodeId`, connected; rejects when it has no registered address or cannot be reached. */
  get(nodeId: number): Promise<Connection> {
    if (this.closed) return Promise.reject(new Error('closed'));
    let c = this.conns.get(nodeId);
    if (!c) {
      const ep = brokerEndpoint(this.b.image, nodeId, interBrokerListener(this.b.config));
      if (!ep) return Promise.reject(new Error(`broker ${nodeId} has no registered address`));
      const conn = new Connection({ ...ep, clientId: this.clientId, security: interBrokerSecurity(this.b.config) });
      c = conn.connect().then(() => conn);
      c.catch(() => this.conns.delete(nodeId));
      this.conns.set(nodeId, c);
    }
    return c;
  }

  /** Closes the connection to `nodeId` (after a failed request); the next get() opens a new one. */
  drop(nodeId: number): void {
    const c = this.conns.get(nodeId);
    this.conns.delete(nodeId);
    void c?.then((x) => x.close()).catch(() => {});
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.conns.keys()]) this.drop(id);
  }
}
