/** SASL test helpers: a broker with a SASL_PLAINTEXT listener and its log captured, and raw SASL frames. */
import { Writable } from 'node:stream';
import pino from 'pino';
import type { TestBroker } from './broker.ts';
import { W } from './wire.ts';

export const PLAIN_JAAS =
  'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" ' +
  'user_admin="admin-secret" user_alice="alice-secret";';

export interface SaslBroker extends TestBroker {
  /** Every log line so far (JSON text). */
  log(): string;
}

/**
 * Starts an in-process broker whose only listener is SASL_PLAINTEXT, its log
 * kept in memory. The brokers' own login (sasl.mechanism.inter.broker.protocol)
 * is PLAIN as admin, so PLAIN is enabled too whatever sasl.enabled.mechanisms
 * the overrides give.
 */
export async function startSaslBroker(
  overrides: Record<string, string> = {},
  opts: { dataDir?: string } = {},
): Promise<SaslBroker> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const enabled = (overrides['sasl.enabled.mechanisms'] ?? 'PLAIN').split(',').map((m) => m.trim());
  if (!enabled.includes('PLAIN')) enabled.push('PLAIN');
  const mod = await import('../../src/index.ts');
  const b = await mod.startBroker({
    logger,
    dataDir: opts.dataDir,
    overrides: {
      listeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      'sasl.mechanism.inter.broker.protocol': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': PLAIN_JAAS,
      'num.partitions': '1',
      ...overrides,
      'sasl.enabled.mechanisms': enabled.join(','),
    },
  });
  return {
    host: b.host,
    port: b.port,
    bootstrapServers: b.bootstrapServers,
    logDirs: b.logDirs,
    close: () => b.close(),
    log: () => lines.join(''),
  };
}

/** kcat's -X options for SASL_PLAINTEXT with a mechanism and a user. */
export function kcatSasl(mechanism: string, username: string, password: string): string[] {
  return [
    '-X',
    'security.protocol=SASL_PLAINTEXT',
    '-X',
    `sasl.mechanisms=${mechanism}`,
    '-X',
    `sasl.username=${username}`,
    '-X',
    `sasl.password=${password}`,
  ];
}

/** SaslHandshake v0/v1 body. */
export function saslHandshakeBody(mechanism: string): Buffer {
  return new W().string(mechanism).build();
}

/** SaslAuthenticate v0/v1 body (not flexible). */
export function saslAuthenticateBody(token: Buffer): Buffer {
  return new W().bytes(token).build();
}

/** Parses SaslAuthenticate v1: error code, message, auth bytes, session lifetime. */
export function parseSaslAuthenticateV1(frame: Buffer) {
  let at = 4; // correlation id
  const errorCode = frame.readInt16BE(at);
  at += 2;
  const mlen = frame.readInt16BE(at);
  at += 2;
  const errorMessage = mlen < 0 ? null : frame.subarray(at, at + mlen).toString();
  at += Math.max(mlen, 0);
  const blen = frame.readInt32BE(at);
  at += 4;
  const authBytes = frame.subarray(at, at + blen);
  at += blen;
  const sessionLifetimeMs = Number(frame.readBigInt64BE(at));
  return { errorCode, errorMessage, authBytes, sessionLifetimeMs };
}

/** Parses SaslHandshake v0/v1: error code and the enabled mechanisms. */
export function parseSaslHandshake(frame: Buffer) {
  let at = 4;
  const errorCode = frame.readInt16BE(at);
  at += 2;
  const n = frame.readInt32BE(at);
  at += 4;
  const mechanisms: string[] = [];
  for (let i = 0; i < n; i++) {
    const l = frame.readInt16BE(at);
    at += 2;
    mechanisms.push(frame.subarray(at, at + l).toString());
    at += l;
  }
  return { errorCode, mechanisms };
}
