/**
 * What the machine allows at best: loopback TCP throughput (iperf3) and
 * sequential disk writes with O_DIRECT and with fdatasync after every write (fio).
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, hasCommand, run, startServer, waitForPort } from './proc.ts';
import type { Ceilings } from './types.ts';

export async function measureCeilings(tmp: string, quick: boolean, log: (s: string) => void): Promise<Ceilings> {
  const c: Ceilings = { notes: [] };
  const secs = quick ? 1 : 3;

  if (hasCommand('iperf3')) {
    const port = await freePort();
    const srv = startServer('iperf3', ['-s', '-B', '127.0.0.1', '-p', String(port)]);
    try {
      await waitForPort(port, 5000, '127.0.0.1', () => !srv.exited());
      const r = await run('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(secs), '-J'], {
        timeoutMs: 30000,
      });
      const j = JSON.parse(r.stdout);
      if (!j.end?.sum_received) throw new Error(j.error ?? r.stderr.slice(-300));
      c.loopbackMBps = j.end.sum_received.bits_per_second / 8 / 1e6;
      log(`ceiling: loopback TCP ${c.loopbackMBps.toFixed(0)} MB/s (iperf3, 1 stream, ${secs}s)`);
    } catch (e) {
      c.notes.push(`iperf3 failed: ${(e as Error).message}`);
    } finally {
      await srv.stop('SIGKILL');
    }
  } else c.notes.push('iperf3 missing (run scripts/bench-setup.sh)');

  if (hasCommand('fio')) {
    const dir = fs.mkdtempSync(path.join(tmp, 'fio-'));
    const file = path.join(dir, 'seq');
    try {
      const base = [
        '--name=seq',
        `--filename=${file}`,
        '--rw=write',
        '--ioengine=psync',
        '--output-format=json',
        '--group_reporting',
      ];
      const a = await run(
        'fio',
        [...base, '--bs=1M', '--direct=1', `--size=${quick ? '256M' : '1G'}`, `--runtime=${secs}`, '--time_based'],
        { timeoutMs: 120000 },
      );
      const ja = JSON.parse(a.stdout.slice(a.stdout.indexOf('{')));
      c.diskWriteMBps = ja.jobs[0].write.bw_bytes / 1e6;
      log(`ceiling: disk sequential write ${c.diskWriteMBps.toFixed(0)} MB/s (fio, 1 MiB O_DIRECT)`);
      fs.rmSync(file, { force: true });
      const b = await run(
        'fio',
        [...base, '--bs=64k', '--fdatasync=1', `--size=${quick ? '256M' : '1G'}`, `--runtime=${secs}`, '--time_based'],
        { timeoutMs: 120000 },
      );
      const jb = JSON.parse(b.stdout.slice(b.stdout.indexOf('{')));
      const w = jb.jobs[0].write;
      c.diskFsyncMBps = w.bw_bytes / 1e6;
      c.diskFsyncIops = w.iops;
      const sync = jb.jobs[0].sync?.lat_ns?.percentile;
      if (sync) c.diskFsyncP99Ms = (sync['99.000000'] ?? NaN) / 1e6;
      log(
        `ceiling: disk write+fdatasync ${c.diskFsyncMBps.toFixed(1)} MB/s, ${(c.diskFsyncIops ?? 0).toFixed(0)} syncs/s (fio, 64 KiB)`,
      );
    } catch (e) {
      c.notes.push(`fio failed: ${(e as Error).message}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } else c.notes.push('fio missing (run scripts/bench-setup.sh)');
  return c;
}
