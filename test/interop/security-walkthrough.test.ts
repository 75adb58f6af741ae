/**
 * The walk-through of docs/security.md ("from an open broker to TLS + SCRAM +
 * ACLs"), run as the doc writes it, so that the doc cannot drift from what
 * Samsa does. The blocks marked `<!-- walk:NAME -->` in the doc are read here:
 *
 * - `stepN.properties`: the lines each step sets in server.properties (a line
 *   replaces the one of the same name); the broker is the real `samsa start`
 *   process (the doc's command line), restarted after each step;
 * - `certs.sh`: the openssl commands, run as one sh script;
 * - `stepN.sh`: commands (`samsa` is bin/samsa.mjs, kcat), each line run on its
 *   own with sh; a line whose comment says `# refused: WHY (...)` must fail
 *   with WHY in its output (any case), the others must succeed;
 * - `admin.properties`, `alice.conf`: client settings, written next to the
 *   client's `ca.pem`; `alice.properties`, `bob.conf` and `bad-password.conf`
 *   are derived from them as the doc describes.
 *
 * Only the host name (broker1.example.com -> localhost, which the
 * certificate then names), the ports (9092, 9093 -> free ports) and the
 * directories (/etc/samsa, /var/lib/samsa -> a temp dir) are replaced.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, canConnect, eventually, freePort } from '../helpers/broker.ts';
import { PYTHON, type RunResult, run } from '../helpers/proc.ts';

const DOC = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'security.md'), 'utf8');

/** The names of the blocks the test has read. */
const used = new Set<string>();

/** The fenced block right after `<!-- walk:NAME -->`. */
function block(name: string): string {
  used.add(name);
  const marker = `<!-- walk:${name} -->\n`;
  const at = DOC.indexOf(marker);
  assert.ok(at >= 0, `docs/security.md has no block ${name}`);
  const m = /^```[a-z]*\n([\s\S]*?)\n```/.exec(DOC.slice(at + marker.length));
  assert.ok(m, `the marker ${name} is not followed by a fenced block`);
  return m[1];
}

/** The `samsa start` command line of the walk-through's introduction. */
function startLine(): string {
  const m = /^samsa start -c \S+/m.exec(DOC.slice(DOC.indexOf('## Walk-through')));
  assert.ok(m, 'the walk-through shows its samsa start command');
  return m[0];
}

/** Command lines of a sh block: no blank or comment-only lines. */
function commands(name: string): string[] {
  return block(name)
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
}

/** server.properties lines into key -> value (a later line replaces an earlier one). */
function applyProperties(props: Map<string, string>, text: string): void {
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const eq = line.indexOf('=');
    props.set(line.slice(0, eq), line.slice(eq + 1));
  }
}

/** A transactional producer (confluent-kafka) with the librdkafka settings of the file argv[1]. */
const TXN_PY = `
import sys
from confluent_kafka import Producer
conf = dict(l.split('=', 1) for l in open(sys.argv[1]).read().splitlines() if l.strip())
conf.update({'bootstrap.servers': sys.argv[2], 'transactional.id': 'walk-tx'})
p = Producer(conf)
p.init_transactions(60)
p.begin_transaction()
p.produce('orders', b'order-tx')
p.commit_transaction(60)
`;

/** What kcat -C printed, sorted (the topic has several partitions). */
function records(r: RunResult): string[] {
  return r.stdout.trim().split('\n').sort();
}

describe('docs/security.md walk-through', () => {
  let root: string;
  let etc: string;
  let data: string;
  let client: string;
  let binDir: string;
  let plainPort: number;
  let saslPort: number;
  let broker: ChildProcess | undefined;
  let brokerOut = '';
  const props = new Map<string, string>();

  const subst = (s: string) =>
    s
      .replaceAll('/etc/samsa', etc)
      .replaceAll('/var/lib/samsa', data)
      .replaceAll('broker1.example.com', 'localhost')
      .replaceAll(':9092', `:${plainPort}`)
      .replaceAll(':9093', `:${saslPort}`);

  const sh = (script: string): Promise<RunResult> =>
    run('sh', ['-c', script], { timeoutMs: 60_000, env: { PATH: `${binDir}:${process.env.PATH}` } });

  /**
   * Runs one doc command in the client's directory and checks it as its comment says; with `until`,
   * runs it again until its output shows what `until` looks for (a change reaching the broker's metadata).
   */
  async function runLine(line: string, until?: (out: string) => boolean): Promise<RunResult> {
    const comment = line.includes(' # ') ? line.slice(line.indexOf(' # ') + 3) : '';
    let r = await sh(`cd '${client}' && ${subst(line)}`);
    const deadline = Date.now() + 30_000;
    while (until && r.code === 0 && !until(r.stdout) && Date.now() < deadline) {
      r = await sh(`cd '${client}' && ${subst(line)}`);
    }
    const shown = `${line}\n-> code ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    if (process.env.WALK_DEBUG) console.log(shown);
    if (comment.startsWith('refused')) {
      assert.notEqual(r.code, 0, `expected to be refused: ${shown}`);
      const what = comment.slice('refused: '.length).split(' (')[0];
      assert.ok((r.stdout + r.stderr).toLowerCase().includes(what.toLowerCase()), `expected "${what}": ${shown}`);
    } else {
      assert.equal(r.code, 0, shown);
    }
    return r;
  }

  async function stopBroker(): Promise<void> {
    const p = broker;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    process.kill(-p.pid!, 'SIGTERM');
    const kill = setTimeout(() => process.kill(-p.pid!, 'SIGKILL'), 20_000);
    await exited;
    clearTimeout(kill);
  }

  /** Writes server.properties and runs the doc's `samsa start`; waits for `port`. */
  async function startBroker(port: number): Promise<void> {
    await stopBroker();
    fs.writeFileSync(
      path.join(etc, 'server.properties'),
      [...props].map(([k, v]) => `${k}=${subst(v)}`).join('\n') + '\n',
    );
    brokerOut = '';
    const p = spawn('sh', ['-c', `exec ${subst(startLine())}`], {
      detached: true,
      env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, SAMSA_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    broker = p;
    p.stdout!.on('data', (d) => (brokerOut += d));
    p.stderr!.on('data', (d) => (brokerOut += d));
    await eventually(
      async () => {
        if (p.exitCode !== null) throw new Error(`samsa start exited ${p.exitCode}:\n${brokerOut}`);
        return canConnect('127.0.0.1', port);
      },
      60_000,
      100,
    ).catch((e) => {
      throw new Error(`${e.message}\n${brokerOut}`);
    });
  }

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-walk-'));
    etc = path.join(root, 'etc');
    data = path.join(root, 'data');
    client = path.join(root, 'client');
    binDir = path.join(root, 'bin');
    for (const d of [etc, client, binDir]) fs.mkdirSync(d);
    fs.symlinkSync(path.join(REPO_ROOT, 'bin', 'samsa.mjs'), path.join(binDir, 'samsa'));
    plainPort = await freePort();
    saslPort = await freePort();
  });
  after(async () => {
    await stopBroker();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('step 1: an open broker; anyone produces and consumes', async () => {
    applyProperties(props, block('step1.properties'));
    await startBroker(plainPort);
    const lines = commands('step1.sh');
    for (const l of lines.slice(0, -1)) await runLine(l);
    const consumed = await runLine(lines.at(-1)!);
    assert.deepEqual(records(consumed), ['order-1']);
  });

  test('step 2: certificates and a SASL_SSL listener', async () => {
    const certs = await sh(subst(block('certs.sh')));
    assert.equal(certs.code, 0, certs.stderr);
    fs.copyFileSync(path.join(etc, 'ca.pem'), path.join(client, 'ca.pem'));
    applyProperties(props, block('step2.properties'));
    await startBroker(saslPort);
    assert.ok(await canConnect('127.0.0.1', plainPort), 'the PLAINTEXT listener is still there, on loopback');
  });

  test('step 3: SCRAM users; alice logs in, a wrong password is refused', async () => {
    const admin = block('admin.properties');
    const alice = block('alice.conf');
    fs.writeFileSync(path.join(client, 'admin.properties'), subst(admin) + '\n');
    fs.writeFileSync(
      path.join(client, 'alice.properties'),
      subst(admin).replace('username="admin" password="admin-secret"', 'username="alice" password="alice-secret"') +
        '\n',
    );
    fs.writeFileSync(path.join(client, 'alice.conf'), subst(alice) + '\n');
    fs.writeFileSync(
      path.join(client, 'bob.conf'),
      subst(alice).replace('sasl.username=alice', 'sasl.username=bob').replace('=alice-secret', '=bob-secret') + '\n',
    );
    fs.writeFileSync(path.join(client, 'bad-password.conf'), subst(alice).replace('=alice-secret', '=wrong') + '\n');
    const users = (out: string) => ['admin', 'alice', 'bob'].every((u) => new RegExp(`^${u} `, 'm').test(out));
    let listed = '';
    for (const l of commands('step3.sh')) {
      const r = await runLine(l, l.startsWith('samsa user scram list') ? users : undefined);
      if (l.startsWith('samsa user scram list')) listed = r.stdout;
    }
    assert.ok(users(listed), listed);
    assert.doesNotMatch(brokerOut, /alice-secret|admin-secret|bob-secret|wrong/, 'no password in the log');
  });

  test('step 4: the authorizer; alice produces, bob consumes, anonymous is refused', async () => {
    applyProperties(props, block('step4.properties'));
    await startBroker(saslPort);
    const lines = commands('step4.sh');
    const acls = (out: string) => /User:alice .* Write /.test(out) && /User:bob .* Read /.test(out);
    for (const l of lines) {
      const r = await runLine(l, l.startsWith('samsa acl list') ? acls : undefined);
      if (l.startsWith('samsa acl list')) assert.ok(acls(r.stdout), r.stdout);
      if (l.includes('bob.conf') && l.includes(' -C ')) {
        assert.deepEqual(records(r), ['order-1', 'order-2'], 'bob reads what alice wrote');
      }
    }
  });

  test('step 5: the PLAINTEXT listener is closed; SASL_SSL still serves', async () => {
    applyProperties(props, block('step5.properties'));
    await startBroker(saslPort);
    assert.equal(await canConnect('127.0.0.1', plainPort), false, 'nothing listens on the PLAINTEXT port');
    for (const l of commands('step5.sh')) {
      const r = await runLine(l);
      if (l.includes('bob.conf') && l.includes(' -C ')) {
        assert.deepEqual(records(r), ['order-1', 'order-2', 'order-5']);
      }
    }
    // the broker's own SASL_SSL login as admin: a transaction commits only once the broker has written
    // its markers through that listener, and a read_committed consumer sees the record only then
    const adminConf = path.join(client, 'admin.conf');
    fs.writeFileSync(
      adminConf,
      fs
        .readFileSync(path.join(client, 'alice.conf'), 'utf8')
        .replace('=alice', '=admin')
        .replace('=alice-secret', '=admin-secret'),
    );
    const txn = await run(
      PYTHON,
      ['-c', `import os; os.chdir(${JSON.stringify(client)})\n${TXN_PY}`, adminConf, `localhost:${saslPort}`],
      {
        timeoutMs: 90_000,
      },
    );
    assert.equal(txn.code, 0, `${txn.stdout}\n${txn.stderr}\n${brokerOut}`);
    await eventually(async () => {
      const r = await sh(
        `cd '${client}' && kcat -F bob.conf -b localhost:${saslPort} -C -t orders -o beginning -e -X isolation.level=read_committed`,
      );
      return r.code === 0 && records(r).includes('order-tx');
    }, 60_000);
  });

  test('every walk block of the doc was run', () => {
    const inDoc = [...DOC.matchAll(/<!-- walk:(\S+) -->/g)].map((m) => m[1]);
    assert.deepEqual([...used].sort(), [...inDoc].sort());
  });
});
