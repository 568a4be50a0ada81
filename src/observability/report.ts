// The summary printed at the end of a drain (or of a drain stopped by a signal). It accounts for
// every message read: loaded, already loaded, quarantined, released back to the queue, or left to
// it (a release that failed: the message reappears after its visibility timeout).
import type { RunStats } from './run-stats.js';

const number = new Intl.NumberFormat('en-US');

/** Messages read whose fate is none of the others: in the queue again after the visibility timeout. */
export function leftInQueue(stats: RunStats): number {
  return Math.max(0, stats.received - stats.loaded - stats.duplicates - stats.quarantined - stats.released);
}

export function formatRunSummary(stats: RunStats, now = performance.now()): string[] {
  const seconds = (now - stats.startedAt) / 1000;
  const reasons = Object.entries(stats.quarantinedByReason)
    .sort(([, a], [, b]) => b - a)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(', ');
  const rate = seconds > 0 ? Math.round(stats.received / seconds) : 0;
  const left = leftInQueue(stats);
  return [
    `  messages read      ${number.format(stats.received)}`,
    `  rows loaded        ${number.format(stats.loaded)}`,
    `  already loaded     ${number.format(stats.duplicates)} (redelivered, skipped)`,
    `  quarantined        ${number.format(stats.quarantined)}${reasons ? ` (${reasons})` : ''}`,
    `  released           ${number.format(stats.released)} (given back to the queue unprocessed)`,
    ...(left > 0 ? [`  left in the queue  ${number.format(left)} (back after the visibility timeout)`] : []),
    `  deleted from SQS   ${number.format(stats.deleted)}${stats.deleteFailures ? `, ${number.format(stats.deleteFailures)} left to redelivery` : ''}`,
    `  time               ${seconds.toFixed(1)} s (${number.format(rate)} messages/s)`,
  ];
}

/** The same summary as one JSON object (--json), for scripts and schedulers. */
export function runSummaryJson(stats: RunStats, drained: boolean, now = performance.now()): string {
  const { startedAt, ...counts } = stats;
  return JSON.stringify({ drained, ...counts, leftInQueue: leftInQueue(stats), seconds: Math.round(now - startedAt) / 1000 });
}
