/**
 * Human-readable log lines for `samsa start` on a terminal:
 *   09:20:01.123 INFO  Samsa broker listening on 127.0.0.1:9092 ... clusterId=...
 * pino's JSON lines stay the default when the output is not a terminal
 * (SAMSA_LOG_FORMAT=json|pretty forces either).
 */
import type { DestinationStream } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

export function formatLogLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line);
  } catch {
    return line;
  }
  const t = new Date(typeof o.time === 'number' ? o.time : Date.now()).toISOString().slice(11, 23);
  const extra = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${t} ${LEVELS[o.level as number] ?? String(o.level)} ${o.msg ?? ''}${extra ? `  ${extra}` : ''}\n`;
}

export function prettyDestination(write: (s: string) => void): DestinationStream {
  return { write: (chunk: string) => write(formatLogLine(chunk.trimEnd())) };
}

export function wantPretty(isTTY: boolean | undefined): boolean {
  const f = process.env.SAMSA_LOG_FORMAT;
  if (f === 'json') return false;
  if (f === 'pretty') return true;
  return isTTY === true;
}
