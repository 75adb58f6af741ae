/**
 * src/cli: the `samsa` command line — `start` runs a broker (or, with --nodes, a
 * local cluster), `format` writes a node's identity into its log dirs; `topic`,
 * `produce`, `consume`, `group`, `cluster`, `partitions`, `acl`, `quota`, `user` and `bench` talk to any
 * Kafka-compatible broker through src/client. Output is human-readable tables by default and JSON
 * with --json; every failure is one line on stderr and a non-zero exit code.
 *
 * This file builds the commander program and maps errors to exit codes;
 * `runCli(argv)` is what bin/samsa.mjs calls (and tests call in-process).
 */
import { Command, CommanderError, Option } from 'commander';
import { type CliIO, DEFAULT_BOOTSTRAP } from './context.ts';
import { registerTopicCommands } from './topic.ts';
import { registerProduceCommand } from './produce.ts';
import { registerConsumeCommand } from './consume.ts';
import { registerClusterCommands } from './cluster.ts';
import { registerGroupCommands } from './group.ts';
import { registerTransactionCommands } from './transactions.ts';
import { registerPartitionCommands } from './reassign.ts';
import { registerStartCommand } from './start.ts';
import { registerFormatCommand } from './storage-format.ts';
import { registerBenchCommand } from './bench/command.ts';
import { registerAclCommands } from './acl.ts';
import { registerQuotaCommands } from './quota.ts';
import { registerUserCommands } from './user.ts';

/** Adds the options every client command shares. */
function clientOptions(c: Command): Command {
  return c
    .addOption(
      new Option('-b, --bootstrap-server <host:port>', 'broker(s) to connect to, comma-separated').default(
        process.env.SAMSA_BOOTSTRAP_SERVER ?? DEFAULT_BOOTSTRAP,
      ),
    )
    .option('--json', 'machine-readable JSON output')
    .option('--timeout-ms <ms>', 'request timeout', '30000')
    .option(
      '--command-config <file>',
      'Kafka client properties for the connection (security.protocol, sasl.mechanism, sasl.jaas.config, ...)',
    );
}

export function buildProgram(io: CliIO, onStarted: (done: Promise<number>) => void = () => {}): Command {
  const program = new Command('samsa');
  program
    .description('Samsa: a Kafka-compatible event-streaming broker, and a command line for any Kafka cluster')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (s, write) => write(`samsa: ${s.replace(/^error: /, '')}`),
    });
  registerStartCommand(program, io, onStarted);
  registerFormatCommand(program, io);
  registerTopicCommands(program, io, clientOptions);
  registerProduceCommand(program, io, clientOptions);
  registerConsumeCommand(program, io, clientOptions);
  registerClusterCommands(program, io, clientOptions);
  registerGroupCommands(program, io, clientOptions);
  registerTransactionCommands(program, io, clientOptions);
  registerPartitionCommands(program, io, clientOptions);
  registerBenchCommand(program, io, clientOptions);
  registerAclCommands(program, io, clientOptions);
  registerQuotaCommands(program, io, clientOptions);
  registerUserCommands(program, io, clientOptions);
  return program;
}

/** One line describing an error for the user. */
export function errorLine(err: unknown): string {
  const e = err as Error;
  const msg = (e?.message ?? String(err)).split('\n')[0];
  return `samsa: ${msg}`;
}

/** Runs the CLI; resolves to the process exit code. */
export async function runCli(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const full: CliIO = {
    stdout: io.stdout ?? ((s) => void process.stdout.write(s)),
    stderr: io.stderr ?? ((s) => void process.stderr.write(s)),
    stdin: io.stdin ?? process.stdin,
  };
  let running: Promise<number> | undefined;
  const program = buildProgram(full, (done) => {
    running = done;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    full.stderr(errorLine(err) + '\n');
    return 1;
  }
  return running ? await running : 0;
}
