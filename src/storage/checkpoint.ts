/**
 * Checkpoint files in Kafka's text layout (recovery-point-offset-checkpoint,
 * log-start-offset-checkpoint, leader-epoch-checkpoint):
 *
 *   <version, 0>\n<entry count>\n<entry>\n...   entry = space-separated fields
 *
 * Written to `<file>.tmp`, optionally fsynced, then renamed over the old file,
 * so a reader sees the old or the new content, never a mix.
 */
import fs from 'node:fs';
import path from 'node:path';

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

export function writeCheckpoint(file: string, entries: readonly (readonly (string | number)[])[], durable: boolean): void {
  const body = `${VERSION}\n${entries.length}\n${entries.map((e) => e.join(' ')).join('\n')}${entries.length ? '\n' : ''}`;
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, body);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  if (durable) fsyncDir(path.dirname(file));
}

/** Make renames and new files in `dir` durable. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms refuse fsync on directories; nothing more can be done there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

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
