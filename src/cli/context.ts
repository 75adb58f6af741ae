/**
 * What a CLI command runs with: its output streams and stdin (replaceable in
 * tests), and the Kafka client built from the shared --bootstrap-server option.
 */
import { KafkaClient } from '../client/client.ts';
import type { ClientSecurity } from '../client/connection.ts';
import { clientSecurityFromProperties, readClientProperties } from '../security/client-config.ts';

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: NodeJS.ReadableStream;
}

export interface ClientFlags {
  bootstrapServer: string;
  json?: boolean;
  timeoutMs?: string;
  /** --command-config: a Kafka client properties file (security.protocol, sasl.*). */
  commandConfig?: string;
}

/** The client security a command's --command-config file asks for (undefined without one). */
export function commandSecurity(flags: Pick<ClientFlags, 'commandConfig'>): ClientSecurity | undefined {
  return flags.commandConfig ? clientSecurityFromProperties(readClientProperties(flags.commandConfig)) : undefined;
}

export const DEFAULT_BOOTSTRAP = '127.0.0.1:9092';

/** Runs `fn` with a connected client and always closes it. */
export async function withClient<T>(flags: ClientFlags, fn: (c: KafkaClient) => Promise<T>): Promise<T> {
  const timeout = flags.timeoutMs ? Number(flags.timeoutMs) : 30_000;
  const client = new KafkaClient({
    bootstrapServers: flags.bootstrapServer,
    clientId: 'samsa-cli',
    requestTimeoutMs: timeout,
    connectTimeoutMs: Math.min(timeout, 10_000),
    retries: 3,
    security: commandSecurity(flags),
  });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
