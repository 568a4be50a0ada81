// The human summary printed at the end of a drain.
import type { RunStats } from './run-stats.js';

const number = new Intl.NumberFormat('en-US');

export function formatRunSummary(stats: RunStats, now = performance.now()): string[] {
  const seconds = (now - stats.startedAt) / 1000;
  const reasons = Object.entries(stats.quarantinedByReason)
    .sort(([, a], [, b]) => b - a)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(', ');
  const rate = seconds > 0 ? Math.round(stats.received / seconds) : 0;
  return [
    `  messages read      ${number.format(stats.received)}`,
    `  rows loaded        ${number.format(stats.loaded)}`,
    `  already loaded     ${number.format(stats.duplicates)} (redelivered, skipped)`,
    `  quarantined        ${number.format(stats.quarantined)}${reasons ? ` (${reasons})` : ''}`,
    `  deleted from SQS   ${number.format(stats.deleted)}${stats.deleteFailures ? `, ${stats.deleteFailures} left to redelivery` : ''}`,
    `  time               ${seconds.toFixed(1)} s (${number.format(rate)} messages/s)`,
  ];
}

/** The same summary as one JSON object (--json), for scripts and schedulers. */
export function runSummaryJson(stats: RunStats, drained: boolean, now = performance.now()): string {
  const { startedAt, ...counts } = stats;
  return JSON.stringify({ drained, ...counts, seconds: Math.round(now - startedAt) / 1000 });
}
