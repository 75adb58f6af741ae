/**
 * The current confluent-kafka-python the interop tests run besides Debian's
 * (1.7.0 on librdkafka 2.0.2, test/helpers/groups.ts's PY): confluent-kafka
 * CURRENT_CK_VERSION from PyPI, which bundles a current librdkafka (one that
 * closes cleanly after a subscribed topic is deleted, and speaks KIP-848,
 * group.protocol=consumer). scripts/install-test-deps.sh (run by `npm test`)
 * puts it in a virtualenv at .cache/py-current/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The confluent-kafka version scripts/install-test-deps.sh installs (keep the two equal). */
export const CURRENT_CK_VERSION = '2.16.1';
/** The virtualenv scripts/install-test-deps.sh makes. */
export const CURRENT_PY_VENV = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '.cache',
  'py-current',
);

let checked: string | undefined;

/**
 * The path of the python that has confluent-kafka CURRENT_CK_VERSION: the
 * virtualenv's, or SAMSA_TEST_PYTHON_CURRENT when set. Throws, saying how
 * to install it, when that python is missing or has another version.
 */
export function currentPython(): string {
  if (checked) return checked;
  const py = process.env.SAMSA_TEST_PYTHON_CURRENT ?? path.join(CURRENT_PY_VENV, 'bin', 'python');
  const howto =
    'run `bash scripts/install-test-deps.sh` (npm test does) to create it, or set SAMSA_TEST_PYTHON_CURRENT';
  if (!existsSync(py)) throw new Error(`the current confluent-kafka's python ${py} is missing: ${howto}`);
  const r = spawnSync(
    py,
    ['-c', 'import confluent_kafka, importlib.metadata as m; print(m.version("confluent-kafka"))'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const version = r.stdout?.trim();
  if (r.status !== 0 || version !== CURRENT_CK_VERSION) {
    throw new Error(
      `${py} does not have confluent-kafka ${CURRENT_CK_VERSION} (${r.status === 0 ? `it has ${version}` : (r.stderr || String(r.error)).trim().slice(-500)}): ${howto}`,
    );
  }
  checked = py;
  return py;
}
