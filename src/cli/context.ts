/**
 * What a CLI command runs with: its output streams and stdin (replaceable in
 * tests), and the Kafka client built from the shared --bootstrap-server option.
 */
import { KafkaClient } from '../client/client.ts';

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: NodeJS.ReadableStream;
}

export interface ClientFlags {
  bootstrapServer: string;
  json?: boolean;
  timeoutMs?: string;
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
  });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
