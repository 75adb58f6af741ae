/** Reading and writing with kcat (librdkafka) from tests: a second, independent client. */
import { KCAT, runOk, run, type RunResult } from './proc.ts';

export interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  tstype?: string;
  ts: number;
  key: string | null;
  payload: string | null;
  headers: [string, string | null][];
}

/**
 * Consumes a topic (or one partition) from the beginning to the end with
 * `kcat -C -J -e` (no consumer group) and returns the records in the order
 * kcat printed them.
 */
export async function kcatConsume(
  bootstrap: string,
  topic: string,
  opts: { partition?: number; offset?: string; count?: number; extra?: string[]; timeoutMs?: number } = {},
): Promise<KcatRecord[]> {
  const args = ['-b', bootstrap, '-C', '-t', topic, '-o', opts.offset ?? 'beginning', '-e', '-J', '-q'];
  if (opts.partition !== undefined) args.push('-p', String(opts.partition));
  if (opts.count !== undefined) args.push('-c', String(opts.count));
  args.push(...(opts.extra ?? []));
  const r = await runOk(KCAT, args, { timeoutMs: opts.timeoutMs ?? 60_000 });
  return parseKcatJson(r.stdout);
}

export function parseKcatJson(stdout: string): KcatRecord[] {
  const out: KcatRecord[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const j = JSON.parse(line);
    const h: (string | null)[] = j.headers ?? [];
    const headers: [string, string | null][] = [];
    for (let i = 0; i + 1 < h.length; i += 2) headers.push([h[i] as string, h[i + 1]]);
    out.push({
      topic: j.topic,
      partition: j.partition,
      offset: j.offset,
      tstype: j.tstype,
      ts: j.ts,
      key: j.key ?? null,
      payload: j.payload ?? null,
      headers,
    });
  }
  return out;
}

/** Produces "key:value" lines with kcat -P -K: (and any extra args). */
export async function kcatProduce(
  bootstrap: string,
  topic: string,
  lines: string[],
  extra: string[] = [],
): Promise<RunResult> {
  return runOk(KCAT, ['-b', bootstrap, '-P', '-t', topic, '-K:', ...extra], {
    input: lines.join('\n') + '\n',
    timeoutMs: 60_000,
  });
}

export { run, runOk };
