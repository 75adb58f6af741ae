/**
 * Samsa's public API for embedding: start a broker inside a Node process, for
 * a project's own test suite or an application that wants a local Kafka.
 *
 *   import { startBroker } from 'samsa';
 *   const broker = await startBroker();          // random port, temp data dir
 *   const kafka = new Kafka({ brokers: [broker.bootstrapServers] });
 *   ...
 *   await broker.close();                         // and the temp dir is removed
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { loadBrokerConfig } from './config/broker-config.ts';
import { startBroker as startServer, type RunningBroker } from './server/index.ts';

export interface EmbeddedBrokerOptions {
  /** Kafka broker properties, e.g. { 'num.partitions': '3', 'auto.create.topics.enable': 'false' }. */
  overrides?: Record<string, string>;
  /** Keep data here instead of a fresh temporary directory (not removed on close). */
  dataDir?: string;
  /** Log level for the broker's logger (default 'warn'; SAMSA_LOG_LEVEL overrides). */
  logLevel?: string;
  logger?: Logger;
}

export interface EmbeddedBroker {
  host: string;
  port: number;
  /** "host:port", ready for any Kafka client's bootstrap servers. */
  bootstrapServers: string;
  clusterId: string;
  logDirs: string[];
  close(): Promise<void>;
}

export async function startBroker(opts: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const temp = opts.dataDir ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-'));
  const overrides: Record<string, string> = {
    listeners: 'PLAINTEXT://127.0.0.1:0',
    'log.dirs': opts.dataDir ?? temp!,
    ...opts.overrides,
  };
  const logger = opts.logger ?? pino({ level: process.env.SAMSA_LOG_LEVEL ?? opts.logLevel ?? 'warn' });
  let running: RunningBroker | undefined;
  try {
    const config = loadBrokerConfig({ overrides });
    running = await startServer({
      config,
      logger,
      // the embedding process keeps its exit code: the broker stops, the rest goes on
      onFatal: (err) => {
        logger.error({ err: err.message }, `broker stopping: ${err.message}`);
        void running?.close();
      },
    });
  } catch (err) {
    if (temp) fs.rmSync(temp, { recursive: true, force: true });
    throw err;
  }
  return {
    host: running.host,
    port: running.port,
    bootstrapServers: `${running.host}:${running.port}`,
    clusterId: running.clusterId,
    logDirs: running.logDirs,
    async close() {
      await running.close();
      if (temp) fs.rmSync(temp, { recursive: true, force: true });
    },
  };
}

export type { RunningBroker };
