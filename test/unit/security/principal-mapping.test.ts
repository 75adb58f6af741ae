/**
 * A client certificate's subject as Kafka names it (RFC 2253, as Java's
 * X500Principal writes it) and ssl.principal.mapping.rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  NoMatchingRule,
  PrincipalMapper,
  certificateSubject,
  escapeDnValue,
  parseRules,
} from '../../../src/security/principal-mapping.ts';
import { makePki } from '../../helpers/certs.ts';

function subjectOf(subject: string): string {
  const pki = makePki();
  try {
    const c = pki.issue('c', subject);
    return certificateSubject(new crypto.X509Certificate(fs.readFileSync(c.cert)).raw);
  } finally {
    pki.cleanup();
  }
}

test('subject DN: RDNs in reverse order, RFC 2253 keywords, escapes, other types as OID=#hex', () => {
  assert.equal(
    subjectOf('/C=US/ST=CA/L=Palo Alto/O=Acme/OU=Eng/CN=alice'),
    'CN=alice,OU=Eng,O=Acme,L=Palo Alto,ST=CA,C=US',
  );
  assert.equal(subjectOf('/O=Acme, Inc/CN=bob+UID=b1'), 'CN=bob+UID=b1,O=Acme\\, Inc');
  // emailAddress has no RFC 2253 keyword: its OID and the DER of the value (IA5String 'a@b')
  assert.equal(subjectOf('/CN=carol/emailAddress=a@b'), '1.2.840.113549.1.9.1=#1603614062,CN=carol');
  assert.equal(subjectOf('/DC=com/DC=example/CN=x;y'), 'CN=x\\;y,DC=example,DC=com');
});

test('escaping of special characters, leading # and spaces', () => {
  assert.equal(escapeDnValue('a,b+c"d\\e<f>g;h'), 'a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h');
  assert.equal(escapeDnValue('#x'), '\\#x');
  assert.equal(escapeDnValue(' x '), '\\ x\\ ');
});

test('DEFAULT keeps the DN; empty rules are DEFAULT', () => {
  assert.equal(PrincipalMapper.fromRules('DEFAULT').name('CN=a,O=b'), 'CN=a,O=b');
  assert.equal(PrincipalMapper.fromRules('').name('CN=a,O=b'), 'CN=a,O=b');
});

test('RULE: first rule matching the whole DN wins; $n groups; L and U', () => {
  const m = PrincipalMapper.fromRules(
    'RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1@$3/L,RULE:^cn=(.*)$/$1/U,DEFAULT',
  );
  assert.equal(m.name('CN=kafka1,OU=ServiceUsers,O=Org,C=US'), 'kafka1');
  assert.equal(m.name('CN=Alice,OU=Eng,O=ACME'), 'alice@acme');
  assert.equal(m.name('cn=bob'), 'BOB');
  assert.equal(m.name('OU=x'), 'OU=x'); // DEFAULT
  // a partial match is not a match
  assert.equal(PrincipalMapper.fromRules('RULE:CN=a/b/,DEFAULT').name('CN=ab'), 'CN=ab');
});

test('escaped slashes, spaces around rules', () => {
  const m = PrincipalMapper.fromRules('  RULE:^CN=(.*)\\/x$/$1\\/y/  ,  DEFAULT ');
  assert.equal(m.name('CN=a/x'), 'a/y');
});

test('no rule matches: NoMatchingRule (the connection fails authentication)', () => {
  assert.throws(() => PrincipalMapper.fromRules('RULE:^CN=(.*)$/$1/').name('O=x'), NoMatchingRule);
});

test('bad rules are refused with what is wrong', () => {
  assert.throws(() => parseRules('RULE:abc'), /no '\/' after its pattern/);
  assert.throws(() => parseRules('RULE:a/b'), /no '\/' after its replacement/);
  assert.throws(() => parseRules('FOO'), /is not DEFAULT or RULE/);
  assert.throws(() => parseRules('DEFAULT,'), /missing after the last comma/);
  assert.throws(() => parseRules('RULE:(/x/'), /invalid pattern/);
});
