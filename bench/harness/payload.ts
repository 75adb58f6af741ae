/** Pre-generated message files for file-fed producers (kcat -l), built before any timing. */
import fs from 'node:fs';
import path from 'node:path';
import type { PayloadFiles, Workload } from './types.ts';

/** A printable payload of `size` bytes: 16 digit stamp field then letters. */
export function makePayload(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = i < 16 ? 48 : 97 + (i % 26);
  return b;
}

const cache = new Map<string, PayloadFiles>();

export function payloadFiles(dir: string, w: Workload, copies: number): PayloadFiles {
  const lines = Math.ceil(w.messages / copies);
  const key = `${w.size}x${lines}x${copies}`;
  const hit = cache.get(key);
  if (hit && fs.existsSync(hit.file)) return hit;
  const payload = makePayload(w.size);
  const file = path.join(dir, `payload-${w.size}-${lines}.txt`);
  const line = Buffer.concat([payload, Buffer.from('\n')]);
  const perBlock = Math.max(1, Math.floor((4 << 20) / line.length));
  const block = Buffer.alloc(perBlock * line.length);
  for (let i = 0; i < perBlock; i++) line.copy(block, i * line.length);
  const fd = fs.openSync(file, 'w');
  let left = lines;
  while (left > 0) {
    const n = Math.min(left, perBlock);
    fs.writeSync(fd, block, 0, n * line.length);
    left -= n;
  }
  fs.closeSync(fd);
  const pf = { file, lines, copies, payload };
  cache.set(key, pf);
  return pf;
}
