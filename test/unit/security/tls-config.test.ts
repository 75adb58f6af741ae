/**
 * TLS configuration: keystores in PEM (file or inline, KIP-651) and PKCS12
 * make working listeners (a real handshake through a SocketServer), the
 * client properties (--command-config) map onto the client's TLS options,
 * and an unusable keystore is one ConfigError at load time that names the
 * listener and does not repeat a password.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { ConfigError, loadBrokerConfig } from '../../../src/config/broker-config.ts';
import { Connection } from '../../../src/client/connection.ts';
import { clientSecurityFromProperties } from '../../../src/security/client-config.ts';
import { ListenerTls } from '../../../src/security/tls.ts';
import { SocketServer } from '../../../src/server/socket-server.ts';
import { type Issued, type Pki, makePki } from '../../helpers/certs.ts';
import { Writer } from '../../../src/protocol/writer.ts';

let pki: Pki;
let server: Issued & { p12?: string };
let client: Issued;

before(() => {
  pki = makePki();
  server = pki.issue('server', '/CN=localhost', { pkcs12Password: 'p12-secret' });
  client = pki.issue('client', '/O=Acme/CN=app1');
});
after(() => pki.cleanup());

function load(overrides: Record<string, string>) {
  return loadBrokerConfig({
    overrides: {
      listeners: 'SSL://127.0.0.1:0',
      'listener.security.protocol.map': 'SSL:SSL',
      'security.inter.broker.protocol': 'SSL',
      'log.dirs': '/tmp/never-used',
      ...overrides,
    },
    fdLimit: 1024,
  });
}

function configError(overrides: Record<string, string>): string {
  try {
    load(overrides);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

/** A TLS SocketServer for `config`'s SSL listener that answers every frame with an empty response; the principals it saw. */
async function serve(overrides: Record<string, string>) {
  const config = load(overrides);
  const t = new ListenerTls(config.listenerTls.get('SSL')!);
  const principals: string[] = [];
  const srv = new SocketServer(
    {
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      maxFrameBytes: 1 << 20,
      idleTimeoutMs: 60_000,
      maxInFlightPerConnection: 10,
      logger: pino({ level: 'silent' }),
      listenerName: 'SSL',
      securityProtocol: 'SSL',
      tls: t,
    },
    (frame, conn) => {
      principals.push(`${conn.principal.type}:${conn.principal.name}`);
      // ApiVersions v0 response: correlation id, error 0, no api keys
      const w = new Writer();
      w.int32(frame.readInt32BE(4));
      w.int16(0);
      w.int32(0);
      return [w.toBuffer()];
    },
  );
  const { port } = await srv.listen();
  srv.open();
  return { port, principals, close: () => srv.close(100) };
}

async function handshake(port: number, props: Record<string, string>): Promise<void> {
  const c = new Connection({
    host: '127.0.0.1',
    port,
    security: clientSecurityFromProperties(props),
    connectTimeoutMs: 10_000,
  });
  try {
    await c.connect().catch((err: Error) => {
      // the stub answers ApiVersions without API keys: negotiation fails after the TLS handshake worked
      if (!/ApiVersions|versions/i.test(err.message)) throw err;
    });
  } finally {
    await c.close();
  }
}

test('PEM keystore file, client with ssl.truststore.location: served, principal ANONYMOUS', async () => {
  const s = await serve({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': server.keystore });
  try {
    await handshake(s.port, { 'security.protocol': 'SSL', 'ssl.truststore.location': pki.ca });
    assert.deepEqual(s.principals, ['User:ANONYMOUS']);
  } finally {
    await s.close();
  }
});

test('PKCS12 keystore; mutual TLS with librdkafka-style client properties gives the mapped principal', async () => {
  const s = await serve({
    'ssl.keystore.type': 'PKCS12',
    'ssl.keystore.location': server.p12!,
    'ssl.keystore.password': 'p12-secret',
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': pki.ca,
    'ssl.client.auth': 'required',
    'ssl.principal.mapping.rules': 'RULE:^CN=(.*?),O=(.*)$/$1@$2/L',
  });
  try {
    await handshake(s.port, {
      'security.protocol': 'SSL',
      'ssl.ca.location': pki.ca,
      'ssl.certificate.location': client.cert,
      'ssl.key.location': client.key,
    });
    assert.deepEqual(s.principals, ['User:app1@acme']);
    // without a client certificate: refused before any request is read
    await assert.rejects(handshake(s.port, { 'security.protocol': 'SSL', 'ssl.truststore.location': pki.ca }));
    assert.deepEqual(s.principals, ['User:app1@acme']);
  } finally {
    await s.close();
  }
});

test('inline PEM (KIP-651) on the server and the client', async () => {
  const s = await serve({
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.certificate.chain': fs.readFileSync(server.cert, 'utf8'),
    'ssl.keystore.key': fs.readFileSync(server.key, 'utf8'),
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.certificates': fs.readFileSync(pki.ca, 'utf8'),
    'ssl.client.auth': 'requested',
  });
  try {
    await handshake(s.port, {
      'security.protocol': 'SSL',
      'ssl.truststore.certificates': fs.readFileSync(pki.ca, 'utf8'),
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.certificate.chain': fs.readFileSync(client.cert, 'utf8'),
      'ssl.keystore.key': fs.readFileSync(client.key, 'utf8'),
    });
    // requested: no certificate is fine too
    await handshake(s.port, { 'security.protocol': 'SSL', 'ssl.ca.location': pki.ca });
    assert.deepEqual(s.principals, ['User:CN=app1,O=Acme', 'User:ANONYMOUS']);
  } finally {
    await s.close();
  }
});

test('the client checks the broker certificate: another CA, or a host name it does not name, fails', async () => {
  const other = makePki('/CN=Other');
  const s = await serve({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': server.keystore });
  try {
    await assert.rejects(handshake(s.port, { 'security.protocol': 'SSL', 'ssl.ca.location': other.ca }));
    const c = new Connection({
      host: '127.0.0.1',
      port: s.port,
      security: {
        tls: {
          ...clientSecurityFromProperties({ 'security.protocol': 'SSL', 'ssl.ca.location': pki.ca }).tls,
          servername: 'example.org',
        },
      },
    });
    await assert.rejects(c.connect(), /example\.org|altnames|Hostname/i);
    await c.close();
    // ssl.endpoint.identification.algorithm empty: the name is not checked
    const lax = clientSecurityFromProperties({
      'security.protocol': 'SSL',
      'ssl.ca.location': pki.ca,
      'ssl.endpoint.identification.algorithm': '',
    });
    const c2 = new Connection({
      host: '127.0.0.1',
      port: s.port,
      security: { tls: { ...lax.tls, servername: 'example.org' } },
    });
    await c2.connect().catch((err: Error) => assert.match(err.message, /ApiVersions|versions/i));
    await c2.close();
  } finally {
    await s.close();
    other.cleanup();
  }
});

test('PLAINTEXT client properties: no TLS', () => {
  assert.deepEqual(clientSecurityFromProperties({}), {});
  assert.deepEqual(clientSecurityFromProperties({ 'security.protocol': 'PLAINTEXT' }), {});
  assert.throws(() => clientSecurityFromProperties({ 'security.protocol': 'TLS' }), /security.protocol/);
});

test('unusable keystores: one ConfigError naming the listener; passwords are not repeated', () => {
  assert.match(configError({}), /listener SSL.*needs a certificate and key/);
  assert.match(
    configError({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': path.join(pki.dir, 'missing.pem') }),
    /listener SSL.*missing\.pem.*no such file/,
  );
  const wrong = configError({
    'ssl.keystore.type': 'PKCS12',
    'ssl.keystore.location': server.p12!,
    'ssl.keystore.password': 'not-the-password',
  });
  assert.match(wrong, /wrong password/);
  assert.ok(!wrong.includes('not-the-password'), wrong);
  const mismatched = path.join(pki.dir, 'mismatched.pem');
  fs.writeFileSync(mismatched, fs.readFileSync(server.cert, 'utf8') + fs.readFileSync(client.key, 'utf8'));
  assert.match(
    configError({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': mismatched }),
    /private key does not belong to the certificate/,
  );
  assert.match(
    configError({ 'ssl.keystore.type': 'JKS', 'ssl.keystore.location': server.keystore }),
    /JKS cannot be read; use PEM or PKCS12/,
  );
  assert.match(
    configError({
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': server.keystore,
      'listener.name.ssl.ssl.principal.mapping.rules': 'RULE:broken',
    }),
    /ssl.principal.mapping.rules/,
  );
  // a listener's own setting wins over the plain one
  const c = load({
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': path.join(pki.dir, 'missing.pem'),
    'listener.name.ssl.ssl.keystore.location': server.keystore,
  });
  assert.equal(c.listenerTls.get('SSL')!.keystoreLocation, server.keystore);
  assert.equal(c.interBrokerListenerName, 'SSL');
});
