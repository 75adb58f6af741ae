/**
 * Apache Kafka from the tests: the classpath of the reference Kafka that
 * scripts/kafka-ref.sh resolves from Maven Central (broker, tools, clients,
 * Streams, Connect), Java sources under test/interop/java compiled against it,
 * and a reference broker started for a test file.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './broker.ts';
import { type RunOptions, type RunResult, run, runOk } from './proc.ts';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'kafka-ref.sh');
const CACHE = path.join(REPO_ROOT, '.cache');
export const JAVA_DIR = path.join(REPO_ROOT, 'test', 'interop', 'java');

let classpath: Promise<string> | undefined;

/** The reference Kafka's classpath (`<lib>/*`), resolving it with Maven on first use. */
export function kafkaClasspath(): Promise<string> {
  classpath ??= runOk('bash', [SCRIPT, 'classpath'], { timeoutMs: 600_000 }).then(
    (r) => r.stdout.trim().split('\n').pop()!,
  );
  return classpath;
}

/**
 * Compiles the .java files of `test/interop/java/<subdir>` against the
 * reference classpath into .cache/java/<subdir>-<hash of the sources>, once;
 * returns the classpath to run them with.
 */
export async function compileJava(subdir: string): Promise<string> {
  const cp = await kafkaClasspath();
  const src = path.join(JAVA_DIR, subdir);
  const files = fs
    .readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.java'))
    .sort()
    .map((f) => path.join(src, f));
  const hash = crypto.createHash('sha256');
  for (const f of files) hash.update(f).update(fs.readFileSync(f));
  const out = path.join(CACHE, 'java', `${subdir.replace(/[/\\]/g, '_')}-${hash.digest('hex').slice(0, 16)}`);
  if (!fs.existsSync(path.join(out, '.compiled'))) {
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });
    await runOk('javac', ['-nowarn', '-encoding', 'UTF-8', '-cp', cp, '-d', out, ...files], { timeoutMs: 300_000 });
    fs.writeFileSync(path.join(out, '.compiled'), '');
  }
  return `${out}${path.delimiter}${cp}`;
}

/** Runs `mainClass` with `args` on a classpath from compileJava (small heap, warnings-only logging). */
export function runJava(
  cp: string,
  mainClass: string,
  args: string[],
  opts: RunOptions & { heap?: string } = {},
): Promise<RunResult> {
  return run(
    'java',
    [
      `-Xmx${opts.heap ?? '512m'}`,
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp',
      cp,
      mainClass,
      ...args,
    ],
    { timeoutMs: 300_000, ...opts },
  );
}

export interface ReferenceKafka {
  bootstrapServers: string;
  dir: string;
  stop(): Promise<void>;
}

/** Starts the reference Kafka (KRaft, one node) on a free loopback port in a fresh directory. */
export async function startReferenceKafka(extraProps: Record<string, string> = {}): Promise<ReferenceKafka> {
  fs.mkdirSync(path.join(CACHE, 'kafka-ref'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(CACHE, 'kafka-ref', 'run-'));
  const props = Object.entries(extraProps)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  const r = await runOk('bash', [SCRIPT, 'start', dir], {
    timeoutMs: 600_000,
    env: { KAFKA_REF_PORT: '0', KAFKA_REF_PROPS: props },
  });
  const m = /bootstrap=(\S+)/.exec(r.stdout);
  if (!m) throw new Error(`kafka-ref start printed no bootstrap address:\n${r.stdout}\n${r.stderr}`);
  return {
    bootstrapServers: m[1],
    dir,
    async stop() {
      await run('bash', [SCRIPT, 'stop', dir], { timeoutMs: 60_000 });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
