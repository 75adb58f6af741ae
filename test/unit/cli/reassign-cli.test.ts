/**
 * `samsa partitions reassign` refuses incomplete or contradictory options
 * before it connects to any broker: one line on stderr, exit code 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../../src/cli/main.ts';

async function cli(...args: string[]) {
  let err = '';
  const code = await runCli(args, {
    stdout: () => {},
    stderr: (s) => {
      err += s;
    },
  });
  return { code, err };
}

test('partitions reassign: usage errors', async () => {
  // port 9 (discard) is never a broker: a usage error is reported before any connection
  const b = ['-b', '127.0.0.1:9'];
  const cases: [string[], RegExp][] = [
    [['partitions', 'reassign', ...b], /--topic and --partition are required/],
    [['partitions', 'reassign', '--topic', 't', '--partition', '0', ...b], /either --replicas or --cancel/],
    [
      ['partitions', 'reassign', '--topic', 't', '--partition', '0', '--replicas', '1', '--cancel', ...b],
      /either --replicas or --cancel/,
    ],
    [['partitions', 'reassign', '--topic', 't', '--partition', 'x', '--replicas', '1', ...b], /--partition must be/],
    [['partitions', 'reassign', '--topic', 't', '--partition', '0', '--replicas', '1,a', ...b], /--replicas must be/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.err, message);
    assert.equal(r.err.split('\n').filter(Boolean).length, 1, 'one line');
  }
});
