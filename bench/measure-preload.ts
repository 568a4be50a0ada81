// Loaded with --import into the measured sqs2pg process: at exit, writes its peak RSS and the
// longest event-loop block to the file named by SQS2PG_BENCH_MEASURE. Adds nothing else to the run.
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const histogram = monitorEventLoopDelay({ resolution: 5 });
histogram.enable();
process.on('exit', () => {
  histogram.disable();
  const file = process.env.SQS2PG_BENCH_MEASURE;
  if (!file) return;
  writeFileSync(file, JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024, maxEventLoopDelayMs: histogram.max / 1e6, p99EventLoopDelayMs: histogram.percentile(99) / 1e6 }));
});
