/**
 * Checkpoint files in Kafka's text layout (recovery-point-offset-checkpoint,
 * log-start-offset-checkpoint, leader-epoch-checkpoint):
 *
 *   <version, 0>\n<entry count>\n<entry>\n...   entry = space-separated fields
 *
 * Written to `<file>.tmp`, fsynced, renamed over the old file, and the
 * directory fsynced: a reader sees the old or the new content, never a mix.
 */
import fs from 'node:fs';
import { fsyncDir, replaceFile } from './file-io.ts';

const VERSION = 0;

/** Entries as arrays of fields, or null when the file is absent or malformed. */
export function readCheckpoint(file: string): string[][] | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const lines = text.split('\n');
  if (lines.length < 2 || Number(lines[0]) !== VERSION) return null;
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || count < 0 || lines.length < 2 + count) return null;
  const out: string[][] = [];
  for (let i = 0; i < count; i++) {
    const fields = lines[2 + i].split(' ');
    if (fields.length < 2) return null;
    out.push(fields);
  }
  return out;
}

/** Replace `file` with the entries, atomically and durably (file-io.ts replaceFile); throws when any step fails. */
export function writeCheckpoint(file: string, entries: readonly (readonly (string | number)[])[]): void {
  replaceFile(
    file,
    `${VERSION}\n${entries.length}\n${entries.map((e) => e.join(' ')).join('\n')}${entries.length ? '\n' : ''}`,
  );
}

export { fsyncDir };

/** The `<topic>-<partition>` entries of a log dir's per-partition checkpoint. */
export function readPartitionCheckpoint(file: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of readCheckpoint(file) ?? []) {
    if (f.length !== 3) continue;
    const off = Number(f[2]);
    if (Number.isSafeInteger(off)) m.set(`${f[0]}-${f[1]}`, off);
  }
  return m;
}
