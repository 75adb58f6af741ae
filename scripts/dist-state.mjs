// Whether dist/ (the compiled package, built by scripts/build.mjs) is up to
// date with what it is built from: the build writes dist/.build-stamp with the
// time it started, and dist/ is fresh while no file or directory under src/,
// nor a build config, was modified after that time. Used by bin/samsa.mjs (in
// a source checkout) and by scripts/build.mjs (to skip a build that has
// nothing to do).
import fs from 'node:fs';
import path from 'node:path';

export const STAMP = '.build-stamp';
export const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs'];

/** The newest modification time (ms) of `dir`, everything under it, and the given files. */
function newest(root) {
  let max = 0;
  const walk = (dir) => {
    max = Math.max(max, fs.statSync(dir).mtimeMs);
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else max = Math.max(max, fs.statSync(p).mtimeMs);
    }
  };
  walk(path.join(root, 'src'));
  for (const f of BUILD_INPUTS) {
    try {
      max = Math.max(max, fs.statSync(path.join(root, f)).mtimeMs);
    } catch {
      // an input that is not there cannot be newer
    }
  }
  return max;
}

/** { fresh, why }: `why` says what makes dist/ stale. `root` is the package root. */
export function distState(root) {
  let built;
  try {
    built = Number(fs.readFileSync(path.join(root, 'dist', STAMP), 'utf8'));
  } catch {
    return { fresh: false, why: 'dist/ is not built' };
  }
  if (!Number.isFinite(built)) return { fresh: false, why: `dist/${STAMP} is unreadable` };
  return newest(root) < built ? { fresh: true, why: '' } : { fresh: false, why: 'src/ changed after dist/ was built' };
}
