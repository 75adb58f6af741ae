/**
 * `samsa user scram set | delete | list`: SCRAM credentials, as
 * `kafka-configs.sh --entity-type users` manages them
 * (AlterUserScramCredentials / DescribeUserScramCredentials):
 *
 *   set USER --add-config 'SCRAM-SHA-256=[iterations=8192,password=pw],SCRAM-SHA-512=[password=pw]'
 *   set USER --mechanism SCRAM-SHA-256 --password pw [--iterations 4096]
 *   delete USER [--mechanism M ...]     (default: every mechanism the user has)
 *   list [USER ...]                     (mechanisms and iterations; never a secret)
 *
 * The salted password is computed here (a random salt, PBKDF2 with the
 * mechanism's hash), so the password itself never leaves the CLI.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { errorName, ErrorCode, KafkaError } from '../protocol/error-codes.ts';
import { saltedPassword, scramByName, scramByType } from '../security/sasl/scram.ts';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import { collect, formatTable, parseIntOption, UsageError } from './format.ts';

interface Upsert {
  mechanism: string;
  password: string;
  iterations: number;
}

const DEFAULT_ITERATIONS = 4096;

/** Parses kafka-configs.sh's `SCRAM-SHA-256=[iterations=8192,password=pw],SCRAM-SHA-512=[password=pw]`. */
export function parseScramAddConfig(text: string): Upsert[] {
  const out: Upsert[] = [];
  const re = /\s*([A-Z0-9-]+)\s*=\s*\[([^\]]*)\]\s*(,|$)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < text.length && (m = re.exec(text)) !== null) {
    at = re.lastIndex;
    const mechanism = m[1];
    if (!scramByName(mechanism))
      throw new UsageError(`--add-config: unknown mechanism ${mechanism} (SCRAM-SHA-256, SCRAM-SHA-512)`);
    let password: string | undefined;
    let iterations = DEFAULT_ITERATIONS;
    for (const kv of m[2].split(',')) {
      const i = kv.indexOf('=');
      const k = kv.slice(0, i).trim();
      const v = kv.slice(i + 1);
      if (k === 'password') password = v;
      else if (k === 'iterations') iterations = parseIntOption(v, `--add-config ${mechanism} iterations`, 1);
      else throw new UsageError(`--add-config ${mechanism}: expected password=... and optionally iterations=N`);
    }
    if (password === undefined) throw new UsageError(`--add-config ${mechanism}: password=... is required`);
    out.push({ mechanism, password, iterations });
  }
  if (at !== text.length || out.length === 0)
    throw new UsageError("--add-config: expected 'SCRAM-SHA-256=[password=...]' entries separated by commas");
  return out;
}

interface SetFlags extends ClientFlags {
  addConfig?: string;
  mechanism?: string[];
  password?: string;
  iterations?: string;
}

/** One line per user error; throws the first as a KafkaError after printing all. */
function checkResults(io: CliIO, results: { user: string; errorCode: number; errorMessage: string | null }[]): void {
  const bad = results.filter((r) => r.errorCode !== ErrorCode.NONE);
  for (const r of bad.slice(1)) io.stderr(`samsa: ${r.user}: ${errorName(r.errorCode)}: ${r.errorMessage ?? ''}\n`);
  if (bad.length > 0)
    throw new KafkaError(
      bad[0].errorCode,
      `${bad[0].user}: ${errorName(bad[0].errorCode)}: ${bad[0].errorMessage ?? ''}`,
    );
}

export function registerUserCommands(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  const user = program.command('user').description('users: SCRAM credentials');
  const scram = user.command('scram').description('SCRAM-SHA-256 / SCRAM-SHA-512 credentials (set, delete, list)');

  clientOptions(
    scram
      .command('set <user>')
      .description('create or replace credentials (the CLI salts the password; the broker stores salted keys)')
      .option('--add-config <spec>', "kafka-configs.sh form: 'SCRAM-SHA-256=[iterations=8192,password=...]'")
      .option('--mechanism <m>', 'SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable; default SCRAM-SHA-256)', collect)
      .option('--password <pw>', 'the password (with --mechanism)')
      .option('--iterations <n>', `PBKDF2 iterations, 4096..16384 (default ${DEFAULT_ITERATIONS})`),
  ).action(async (name: string, o: SetFlags) => {
    let upserts: Upsert[];
    if (o.addConfig !== undefined) {
      if (o.password !== undefined || o.mechanism || o.iterations)
        throw new UsageError('give either --add-config or --mechanism/--password/--iterations');
      upserts = parseScramAddConfig(o.addConfig);
    } else {
      if (o.password === undefined) throw new UsageError('--password (or --add-config) is required');
      const iterations = o.iterations ? parseIntOption(o.iterations, '--iterations', 1) : DEFAULT_ITERATIONS;
      upserts = (o.mechanism ?? ['SCRAM-SHA-256']).map((mechanism) => {
        if (!scramByName(mechanism))
          throw new UsageError(`--mechanism ${mechanism}: expected SCRAM-SHA-256 or SCRAM-SHA-512`);
        return { mechanism, password: o.password!, iterations };
      });
    }
    const upsertions = upserts.map((u) => {
      const m = scramByName(u.mechanism)!;
      const salt = randomBytes(32);
      return {
        name,
        mechanism: m.type,
        iterations: u.iterations,
        salt,
        saltedPassword: saltedPassword(m, u.password, salt, u.iterations),
      };
    });
    await withClient(o, async (c) => {
      const r = await c.request('AlterUserScramCredentials', { deletions: [], upsertions });
      checkResults(io, r.results);
      if (o.json) io.stdout(`${JSON.stringify({ user: name, set: upserts.map((u) => u.mechanism) })}\n`);
      else io.stdout(`Set ${upserts.map((u) => u.mechanism).join(', ')} credentials of user ${name}.\n`);
    });
  });

  clientOptions(
    scram
      .command('delete <user>')
      .description('delete credentials')
      .option(
        '--mechanism <m>',
        'SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable; default: every one the user has)',
        collect,
      ),
  ).action(async (name: string, o: ClientFlags & { mechanism?: string[] }) => {
    await withClient(o, async (c) => {
      let types: number[];
      if (o.mechanism) {
        types = o.mechanism.map((mech) => {
          const m = scramByName(mech);
          if (!m) throw new UsageError(`--mechanism ${mech}: expected SCRAM-SHA-256 or SCRAM-SHA-512`);
          return m.type;
        });
      } else {
        const d = await c.request('DescribeUserScramCredentials', { users: [{ name }] });
        checkResults(io, d.results);
        types = d.results[0]?.credentialInfos.map((i) => i.mechanism) ?? [];
      }
      const r = await c.request('AlterUserScramCredentials', {
        deletions: types.map((mechanism) => ({ name, mechanism })),
        upsertions: [],
      });
      checkResults(io, r.results);
      const names = types.map((t) => scramByType(t)?.name ?? String(t));
      if (o.json) io.stdout(`${JSON.stringify({ user: name, deleted: names })}\n`);
      else io.stdout(`Deleted ${names.join(', ')} credentials of user ${name}.\n`);
    });
  });

  clientOptions(
    scram.command('list [users...]').description('users with SCRAM credentials: mechanisms, iterations'),
  ).action(async (users: string[], o: ClientFlags) => {
    await withClient(o, async (c) => {
      const r = await c.request('DescribeUserScramCredentials', {
        users: users.length > 0 ? users.map((name) => ({ name })) : null,
      });
      if (r.errorCode !== ErrorCode.NONE) throw new KafkaError(r.errorCode, r.errorMessage ?? errorName(r.errorCode));
      checkResults(io, r.results);
      const rows = r.results.map((x) => ({
        user: x.user,
        credentials: x.credentialInfos.map((i) => ({
          mechanism: scramByType(i.mechanism)?.name ?? String(i.mechanism),
          iterations: i.iterations,
        })),
      }));
      if (o.json) {
        io.stdout(`${JSON.stringify(rows)}\n`);
        return;
      }
      io.stdout(
        formatTable(
          ['USER', 'MECHANISM', 'ITERATIONS'],
          rows.flatMap((u) => u.credentials.map((cr) => [u.user, cr.mechanism, cr.iterations])),
        ),
      );
    });
  });
}
