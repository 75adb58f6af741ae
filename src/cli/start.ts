/**
 * `samsa start`: load the broker configuration (file + --override), start
 * the broker, and shut it down cleanly on SIGTERM / SIGINT.
 */
import type { Command } from 'commander';
import pino from 'pino';
import type { CliIO } from './context.ts';
import { collect } from './format.ts';
import { loadBrokerConfig } from '../config/broker-config.ts';
import { prettyDestination, wantPretty } from './log-format.ts';

/**
 * V8 options the standalone broker runs with (bin/samsa.mjs passes them in its
 * `#!/usr/bin/env -S node ...` line; a unit test keeps the two equal).
 *
 * Why: every socket read and every produced batch is an ArrayBuffer outside
 * the JS heap, and V8 schedules full mark-compact collections from the heap's
 * size *including* that external memory. With the broker's small live heap
 * (about 10 MiB) the old-generation limit stays near that size, so at 40 MB/s
 * of produce traffic V8 ran a full collection every 70-150 ms: 2-8 ms pauses
 * that were the broker's p99, and about half its CPU. A 64 MiB initial old
 * space keeps the limit above the churn (0 full collections in 30 s of the
 * same load, broker CPU 50% -> 24%). It only moves where collection starts;
 * the heap still shrinks and grows as V8 sees fit. See docs/performance.md.
 */
export const BROKER_NODE_FLAGS = ['--initial-old-space-size=64'];

export function registerStartCommand(program: Command, io: CliIO, onStarted: (done: Promise<number>) => void): void {
  program
    .command('start')
    .description('start a broker (Kafka server.properties names; Ctrl-C or SIGTERM stops it cleanly)')
    .option('-c, --config <file>', 'a server.properties file')
    .option('-o, --override <key=value>', 'a broker property, applied after the file; repeatable', collect)
    .action(async (o: { config?: string; override?: string[] }) => {
      const config = loadBrokerConfig({ file: o.config, overrides: o.override ?? [] });
      const level = process.env.SAMSA_LOG_LEVEL ?? 'info';
      const logger = wantPretty(process.stdout.isTTY)
        ? pino(
            { level },
            prettyDestination((s) => process.stdout.write(s)),
          )
        : pino({ level });
      const missing = BROKER_NODE_FLAGS.filter((f) => !process.execArgv.includes(f));
      if (missing.length)
        logger.info(
          { missing },
          `node runs without ${missing.join(' ')}: expect frequent full GCs under load (bin/samsa.mjs sets it)`,
        );
      const { startBroker } = await import('../server/index.ts');
      const broker = await startBroker({ config, logger });
      // Stay alive until a signal: close once, exit 0; a second signal exits at once.
      onStarted(
        new Promise<number>((resolve) => {
          let closing = false;
          const onSignal = (sig: NodeJS.Signals) => {
            if (closing) {
              io.stderr(`samsa: ${sig} again, exiting without a clean shutdown\n`);
              process.exit(1);
            }
            closing = true;
            logger.info({ signal: sig }, 'stopping');
            broker.close().then(
              () => resolve(0),
              (err) => {
                io.stderr(`samsa: shutdown failed: ${(err as Error).message}\n`);
                resolve(1);
              },
            );
          };
          process.on('SIGTERM', onSignal);
          process.on('SIGINT', onSignal);
        }),
      );
    });
}
