/**
 * Samsa startup with many partitions: create them, put a little data in,
 * stop cleanly and time the restart; then kill -9 and time the restart
 * (recovery). "port" = listener accepts TCP; "ready" = a metadata request
 * (kcat -L) shows every partition with a leader.
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, nowSec, procRss, run, sleep } from './proc.ts';
import { createTopics, startSamsa } from './targets/samsa.ts';
import type { StartupResult } from './types.ts';

async function partitionsReady(bootstrap: string, want: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await run('kcat', ['-L', '-J', '-b', bootstrap, '-m', '5'], { timeoutMs: 15000 }).catch(() => undefined);
    if (r && r.code === 0) {
      try {
        const md = JSON.parse(r.stdout);
        let n = 0;
        for (const t of md.topics ?? [])
          if (!String(t.topic).startsWith('__')) for (const p of t.partitions ?? []) if (p.leader >= 0) n++;
        if (n >= want) return true;
      } catch {
        /* retry */
      }
    }
    await sleep(100);
  }
  return false;
}

export async function measureStartup(
  tmp: string,
  partitions: number,
  log: (s: string) => void,
): Promise<StartupResult> {
  const res: StartupResult = { partitions };
  const dir = fs.mkdtempSync(path.join(tmp, 'samsa-startup-'));
  const port = await freePort();
  const bootstrap = `127.0.0.1:${port}`;
  const topics = 10;
  let srv: Awaited<ReturnType<typeof startSamsa>> | undefined;
  try {
    srv = await startSamsa(dir, port);
    let t = nowSec();
    await createTopics(
      bootstrap,
      Array.from({ length: topics }, (_, i) => ({ topic: `many-${i}`, numPartitions: partitions / topics })),
    );
    res.createSeconds = nowSec() - t;
    // a few messages into every partition so each has a segment to recover
    const file = path.join(dir, '..', `startup-msgs-${port}.txt`);
    fs.writeFileSync(file, 'x'.repeat(100).concat('\n').repeat(2000));
    await Promise.all(
      Array.from({ length: topics }, (_, i) =>
        run(
          'kcat',
          [
            '-P',
            '-b',
            bootstrap,
            '-t',
            `many-${i}`,
            '-X',
            'linger.ms=0',
            '-X',
            'sticky.partitioning.linger.ms=0',
            '-l',
            file,
          ],
          {
            timeoutMs: 60000,
          },
        ),
      ),
    );
    fs.rmSync(file, { force: true });
    res.rssRest = procRss(srv.pid);
    t = nowSec();
    await srv.stop('SIGTERM', 60000);
    res.cleanShutdownSeconds = nowSec() - t;
    log(
      `startup: ${partitions} partitions created in ${res.createSeconds.toFixed(2)} s, clean shutdown ${res.cleanShutdownSeconds.toFixed(2)} s`,
    );

    t = nowSec();
    srv = await startSamsa(dir, port);
    res.afterCleanPortSeconds = nowSec() - t;
    if (await partitionsReady(bootstrap, partitions, 120000)) res.afterCleanReadySeconds = nowSec() - t;
    log(
      `startup: after clean shutdown: port ${res.afterCleanPortSeconds.toFixed(2)} s, all partitions led ${res.afterCleanReadySeconds?.toFixed(2) ?? 'never'} s`,
    );

    await srv.stop('SIGKILL');
    t = nowSec();
    srv = await startSamsa(dir, port);
    res.afterKillPortSeconds = nowSec() - t;
    if (await partitionsReady(bootstrap, partitions, 120000)) res.afterKillReadySeconds = nowSec() - t;
    log(
      `startup: after kill -9: port ${res.afterKillPortSeconds.toFixed(2)} s, all partitions led ${res.afterKillReadySeconds?.toFixed(2) ?? 'never'} s`,
    );
  } catch (e) {
    res.error = (e as Error).message.split('\n')[0];
    log(`startup: failed: ${(e as Error).message}`);
  } finally {
    await srv?.stop('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return res;
}
