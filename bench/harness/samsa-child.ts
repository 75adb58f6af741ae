/**
 * Runs the embedded broker alone in this process, for the harness when
 * bin/samsa.mjs is not there: node --import tsx samsa-child.ts DIR PORT.
 * SIGTERM closes it cleanly.
 */
import { startBroker } from '../../src/index.ts';

const [dir, port] = process.argv.slice(2);
const broker = await startBroker({ dataDir: dir, overrides: { listeners: `PLAINTEXT://127.0.0.1:${port}` } });
let closing = false;
const shutdown = async () => {
  if (closing) return;
  closing = true;
  await broker.close();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
