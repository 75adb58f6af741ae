/**
 * npm run bench [-- --quick] [--targets samsa,kafka,nats,redis] [--only p1-1KiB,...]
 *                [--no-ceilings] [--no-startup] [--json FILE] [--svg FILE]
 * Side-by-side benchmark of Samsa against Apache Kafka, NATS JetStream and Redis Streams on
 * loopback; see docs/performance.md. Tools: scripts/bench-setup.sh.
 */
import { runBench, type BenchOptions } from './harness/index.ts';

const argv = process.argv.slice(2);
const opts: BenchOptions = {};
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => {
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    return v;
  };
  if (a === '--quick') opts.quick = true;
  else if (a === '--targets') opts.targets = val().split(',');
  else if (a === '--only') opts.only = val().split(',');
  else if (a === '--no-ceilings') opts.ceilings = false;
  else if (a === '--no-startup') opts.startup = false;
  else if (a === '--json') opts.resultsFile = val();
  else if (a === '--svg') opts.svgFile = val();
  else if (a === '-h' || a === '--help') {
    console.log(
      'usage: npm run bench -- [--quick] [--targets samsa,kafka,nats,redis] [--only NAME,...] [--no-ceilings] [--no-startup] [--json FILE] [--svg FILE]',
    );
    process.exit(0);
  } else {
    console.error(`unknown option ${a}`);
    process.exit(2);
  }
}
await runBench(opts);
