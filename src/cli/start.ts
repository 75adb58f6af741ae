/**
 * `samsa start`: load the broker configuration (file + --override), start
 * the broker, and shut it down cleanly on SIGTERM / SIGINT. With `--nodes N`
 * it starts a local cluster of N such processes instead (local-cluster.ts).
 */
import { checkSaslConfig } from '../security/sasl/index.ts';
import type { Command } from 'commander';
import pino from 'pino';
import type { CliIO } from './context.ts';
import { UsageError, collect, parseIntOption } from './format.ts';
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

/**
 * Set in a node's environment by `samsa start --nodes`: the node stops cleanly
 * when its stdin (a pipe from the launcher) closes, so a launcher that dies
 * without stopping its nodes (kill -9) leaves no broker behind.
 */
export const EXIT_WITH_PARENT_ENV = 'SAMSA_EXIT_WITH_PARENT';

interface StartFlags {
  config?: string;
  override?: string[];
  nodes?: string;
  port?: string;
  controllerPort?: string;
  dataDir?: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerStartCommand(program: Command, io: CliIO, onStarted: (done: Promise<number>) => void): void {
  program
    .command('start')
    .description('start a broker (Kafka server.properties names; Ctrl-C or SIGTERM stops it cleanly)')
    .option('-c, --config <file>', 'a server.properties file')
    .option('-o, --override <key=value>', 'a broker property, applied after the file; repeatable', collect)
    .option('--nodes <n>', 'start a local cluster of N broker+controller processes on 127.0.0.1 (docs/cluster.md)')
    .option('--port <port>', 'with --nodes: client port of node 1, the others follow (default 9092)')
    .option(
      '--controller-port <port>',
      'with --nodes: CONTROLLER port of node 1, the others follow (default --port + 10000)',
    )
    .option('--data-dir <dir>', 'with --nodes: node N keeps its data in <dir>/node-N (default ./data)')
    .option('--dry-run', 'with --nodes: print the command of each node instead of starting them')
    .option('--json', 'with --nodes --dry-run: the nodes as JSON')
    .action(async (o: StartFlags) => {
      if (o.nodes !== undefined) return startLocalCluster(o, io, onStarted);
      const clusterOnly = (['port', 'controllerPort', 'dataDir', 'dryRun', 'json'] as const).find(
        (k) => o[k] !== undefined,
      );
      if (clusterOnly)
        throw new UsageError(`--${clusterOnly.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} only goes with --nodes`);
      const config = loadBrokerConfig({ file: o.config, overrides: o.override ?? [] });
      checkSaslConfig(config);
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
      // Started by `samsa start --nodes`: stdin is a pipe from the launcher and closes when it dies. Its output
      // pipes break then too: the lines of the shutdown go nowhere instead of failing it (EPIPE). Until the
      // broker is up there is nothing to close: the process exits, as it would on a signal.
      let parentGone: () => void = () => process.exit(1);
      if (process.env[EXIT_WITH_PARENT_ENV] === '1') {
        for (const out of [process.stdout, process.stderr]) out.on('error', () => {});
        process.stdin.on('end', () => parentGone());
        process.stdin.on('error', () => parentGone());
        process.stdin.resume();
      }
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
          parentGone = () => onSignal('SIGTERM');
          if (process.stdin.readableEnded) parentGone();
        }),
      );
    });
}

async function startLocalCluster(o: StartFlags, io: CliIO, onStarted: (done: Promise<number>) => void): Promise<void> {
  const lc = await import('./local-cluster.ts');
  const nodes = parseIntOption(o.nodes!, '--nodes', 1);
  const port = o.port === undefined ? lc.DEFAULT_CLIENT_PORT : parseIntOption(o.port, '--port', 1);
  const controllerPort =
    o.controllerPort === undefined
      ? port + lc.CONTROLLER_PORT_OFFSET
      : parseIntOption(o.controllerPort, '--controller-port', 1);
  const dataDir = o.dataDir ?? lc.DEFAULT_DATA_DIR;
  const plan = lc.planLocalCluster({
    nodes,
    clientPorts: lc.consecutivePorts(port, nodes, '--port'),
    controllerPorts: lc.consecutivePorts(controllerPort, nodes, '--controller-port'),
    dataDir,
    configFile: o.config,
    overrides: o.override,
  });
  if (o.dryRun) {
    if (o.json)
      io.stdout(
        JSON.stringify({
          bootstrapServers: plan.bootstrapServers,
          voters: plan.voters,
          nodes: plan.nodes.map(({ properties, ...n }) => ({ ...n, properties: Object.fromEntries(properties) })),
        }) + '\n',
      );
    else for (const n of plan.nodes) io.stdout(lc.nodeCommandLine(n) + '\n');
    return;
  }
  lc.checkLocalCluster(plan, o.config, dataDir);
  onStarted(lc.runLocalCluster(plan, io, { pretty: wantPretty(process.stdout.isTTY) }));
}
