/**
 * Certificates for TLS tests, made on the fly with the openssl command in a
 * temp dir: a CA, and certificates it signs (server: SAN for localhost and
 * 127.0.0.1; client: any subject).
 *
 *   const pki = makePki();                       // pki.dir, pki.ca (PEM file)
 *   const srv = pki.issue('server', '/CN=localhost');
 *   const other = makePki();                     // another CA
 *   pki.cleanup();
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Issued {
  /** PEM files. */
  cert: string;
  key: string;
  /** cert + key in one PEM file (an ssl.keystore.type=PEM keystore). */
  keystore: string;
}

export interface Pki {
  dir: string;
  /** The CA certificate (PEM file). */
  ca: string;
  issue(name: string, subject: string, opts?: { days?: number; pkcs12Password?: string }): Issued & { p12?: string };
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makePki(caSubject = '/CN=Samsa Test CA'): Pki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-pki-'));
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      caSubject,
    ],
    dir,
  );
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  let serial = 1;
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    issue(name, subject, opts = {}) {
      openssl(
        ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject],
        dir,
      );
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-set_serial',
          String(Date.now() * 100 + serial++),
          '-out',
          `${name}.pem`,
          '-days',
          String(opts.days ?? 2),
          '-extfile',
          'ext.cnf',
        ],
        dir,
      );
      const cert = path.join(dir, `${name}.pem`);
      const key = path.join(dir, `${name}.key`);
      const keystore = path.join(dir, `${name}.keystore.pem`);
      fs.writeFileSync(keystore, fs.readFileSync(cert, 'utf8') + fs.readFileSync(key, 'utf8'));
      let p12: string | undefined;
      if (opts.pkcs12Password !== undefined) {
        p12 = path.join(dir, `${name}.p12`);
        openssl(
          ['pkcs12', '-export', '-in', cert, '-inkey', key, '-out', p12, '-passout', `pass:${opts.pkcs12Password}`],
          dir,
        );
      }
      return { cert, key, keystore, p12 };
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
