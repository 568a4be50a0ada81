// The summary printed at the end of a drain (or of a drain stopped by a signal). It accounts for
// every message read: loaded, already loaded, quarantined, erased (a forgotten subject's, stored
// nowhere), released back to the queue, or left to it (a release that failed, or a message
// PostgreSQL refused in every form: it reappears after its visibility timeout). A run of several
// pipelines also gets a line for each.
import type { MessageCounts, RunStats } from './run-stats.js';

const number = new Intl.NumberFormat('en-US');

/** Messages read whose fate is none of the others: in the queue again after the visibility timeout. */
export function leftInQueue(counts: MessageCounts): number {
  return Math.max(0, counts.received - counts.loaded - counts.duplicates - counts.quarantined - counts.erased - counts.released);
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
    ...(stats.erased > 0 ? [`  erased             ${number.format(stats.erased)} (of subjects erased by sqs2pg forget: stored nowhere)`] : []),
    `  released           ${number.format(stats.released)} (given back to the queue unprocessed)`,
    ...(left > 0 ? [`  left in the queue  ${number.format(left)} (back after the visibility timeout)`] : []),
    `  deleted from SQS   ${number.format(stats.deleted)}${stats.deleteFailures ? `, ${number.format(stats.deleteFailures)} left to redelivery` : ''}`,
    `  time               ${seconds.toFixed(1)} s (${number.format(rate)} messages/s)`,
  ];
}

/**
 * Each pipeline's counts as a table under the summary, when the run had more than one (with one,
 * the summary is that pipeline's). Columns that are 0 for the whole run (erased, left) are left out.
 */
export function formatPipelineSummary(stats: RunStats): string[] {
  const pipelines = Object.entries(stats.pipelines);
  if (pipelines.length < 2) return [];
  const columns: { title: string; value: (counts: MessageCounts) => number; shown: boolean }[] = [
    { title: 'read', value: (counts) => counts.received, shown: true },
    { title: 'loaded', value: (counts) => counts.loaded, shown: true },
    { title: 'already loaded', value: (counts) => counts.duplicates, shown: true },
    { title: 'quarantined', value: (counts) => counts.quarantined, shown: true },
    { title: 'erased', value: (counts) => counts.erased, shown: stats.erased > 0 },
    { title: 'released', value: (counts) => counts.released, shown: true },
    { title: 'left', value: leftInQueue, shown: leftInQueue(stats) > 0 },
    { title: 'deleted', value: (counts) => counts.deleted, shown: true },
  ];
  const shown = columns.filter((column) => column.shown);
  const rows = [['pipeline', ...shown.map((column) => column.title)], ...pipelines.map(([name, counts]) => [name, ...shown.map((column) => number.format(column.value(counts)))])];
  const widths = rows[0]!.map((_, index) => Math.max(...rows.map((row) => row[index]!.length)));
  // Names to the left, numbers to the right, as a person reads a table.
  return rows.map((row) => `  ${row.map((cell, index) => (index === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[index]!))).join('  ')}`.trimEnd());
}

/** The same summary as one JSON object (--json), for scripts and schedulers: the run's counts, and each pipeline's. */
export function runSummaryJson(stats: RunStats, drained: boolean, now = performance.now()): string {
  const { startedAt, pipelines, ...counts } = stats;
  const byPipeline = Object.fromEntries(Object.entries(pipelines).map(([name, part]) => [name, { ...part, leftInQueue: leftInQueue(part) }]));
  return JSON.stringify({ drained, ...counts, leftInQueue: leftInQueue(stats), seconds: Math.round(now - startedAt) / 1000, pipelines: byPipeline });
}
