/**
 * `samsa format --cluster-id ID` (Kafka's `kafka-storage format`): writes
 * meta.properties (cluster.id, node.id) into every log dir of a node's
 * configuration, and into metadata.log.dir. Optional in Samsa: a node started
 * on empty directories adopts the cluster id its quorum agrees on. Formatting
 * ahead is for those who want every node pinned to one id before it starts.
 *
 * Every directory is checked before any is written: one that belongs to
 * another cluster or another node.id stops the command and nothing is
 * written; one already formatted with the same identity is left as it is.
 * Each file is replaced atomically (temp file, fsync, rename, fsync dir).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadBrokerConfig } from '../config/broker-config.ts';
import { parseProperties } from '../config/properties.ts';
import { replaceFile } from '../storage/file-io.ts';
import type { CliIO } from './context.ts';
import { UsageError, collect } from './format.ts';

export const META_PROPERTIES = 'meta.properties';

/** A new cluster id as Kafka makes them: 16 random bytes, base64url without padding (22 characters). */
export function randomClusterId(): string {
  return randomBytes(16).toString('base64url');
}

/** Kafka's rule for a cluster id: the base64url form of a 16-byte UUID. */
export function checkClusterId(id: string): void {
  if (!/^[A-Za-z0-9_-]{22}$/.test(id) || Buffer.from(id, 'base64url').length !== 16)
    throw new UsageError(
      `cluster id '${id}' is not a base64url-encoded 16-byte UUID (22 characters, as \`samsa format --random-cluster-id\` makes)`,
    );
}

export interface FormatResult {
  dir: string;
  status: 'formatted' | 'already formatted';
}

/** meta.properties of `dir` as key/value pairs, or null when it has none. */
export function readMetaProperties(dir: string): Record<string, string> | null {
  const file = path.join(dir, META_PROPERTIES);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return Object.fromEntries(parseProperties(text).map((e) => [e.key, e.value]));
}

/**
 * Formats `dirs` for (clusterId, nodeId): checks them all, then writes the
 * missing meta.properties files. Throws a UsageError naming the first
 * directory that belongs to another cluster or node, before writing anything.
 */
export function formatDirs(dirs: string[], clusterId: string, nodeId: number): FormatResult[] {
  checkClusterId(clusterId);
  const plan: { dir: string; write: boolean }[] = [];
  for (const dir of dirs) {
    const props = readMetaProperties(dir);
    if (props === null) {
      plan.push({ dir, write: true });
      continue;
    }
    const file = path.join(dir, META_PROPERTIES);
    if (props['cluster.id'] !== undefined && props['cluster.id'] !== clusterId)
      throw new UsageError(
        `${file} belongs to cluster ${props['cluster.id']}, not ${clusterId}: nothing was formatted (use an empty directory, or remove that one to give up its data)`,
      );
    if (props['node.id'] !== undefined && Number(props['node.id']) !== nodeId)
      throw new UsageError(
        `${file} belongs to node.id ${props['node.id']}, not ${nodeId}: nothing was formatted (set node.id=${props['node.id']}, or use another directory)`,
      );
    plan.push({ dir, write: props['cluster.id'] === undefined || props['node.id'] === undefined });
  }
  return plan.map(({ dir, write }) => {
    if (!write) return { dir, status: 'already formatted' };
    fs.mkdirSync(dir, { recursive: true });
    // The same text startBroker writes when it formats a fresh dir itself.
    replaceFile(
      path.join(dir, META_PROPERTIES),
      `# Samsa broker identity\nversion=1\ncluster.id=${clusterId}\nnode.id=${nodeId}\n`,
    );
    return { dir, status: 'formatted' };
  });
}

interface FormatFlags {
  config?: string;
  override?: string[];
  clusterId?: string;
  randomClusterId?: boolean;
  json?: boolean;
}

export function registerFormatCommand(program: Command, io: CliIO): void {
  program
    .command('format')
    .description(
      "write meta.properties (cluster.id, node.id) into a node's log dirs ahead of its first start; optional in Samsa",
    )
    .option('--cluster-id <id>', 'the cluster id (a base64url 16-byte UUID)')
    .option('--random-cluster-id', 'make a new cluster id, format with it and print it (alone on stdout)')
    .option('-c, --config <file>', 'the server.properties the node will start with')
    .option('-o, --override <key=value>', 'a broker property, applied after the file; repeatable', collect)
    .option('--json', 'machine-readable JSON output')
    .action((o: FormatFlags) => {
      if ((o.clusterId === undefined) === !o.randomClusterId)
        throw new UsageError('give either --cluster-id ID or --random-cluster-id');
      const config = loadBrokerConfig({ file: o.config, overrides: o.override ?? [] });
      const clusterId = o.clusterId ?? randomClusterId();
      if (config.clusterId !== null && config.clusterId !== clusterId)
        throw new UsageError(`the configuration sets cluster.id=${config.clusterId}, not ${clusterId}`);
      const dirs = [...config.logDirs];
      if (config.metadataLogDir !== null && !dirs.includes(config.metadataLogDir)) dirs.push(config.metadataLogDir);
      const results = formatDirs(dirs, clusterId, config.nodeId);
      if (o.json) {
        io.stdout(JSON.stringify({ clusterId, nodeId: config.nodeId, dirs: results }) + '\n');
        return;
      }
      // With a random id, stdout is the id alone (ID=$(samsa format --random-cluster-id)); what was done goes to stderr.
      const report = o.randomClusterId ? io.stderr : io.stdout;
      if (o.randomClusterId) io.stdout(`${clusterId}\n`);
      for (const r of results) report(`${r.status} ${r.dir} (cluster.id=${clusterId}, node.id=${config.nodeId})\n`);
    });
}
