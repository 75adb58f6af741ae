/** Entry of the latency processes `samsa bench` spawns (see latency-process.ts). */
import { latencyProcessMain } from './latency-process.ts';

latencyProcessMain(process.argv.slice(2));
