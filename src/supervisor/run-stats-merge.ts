// The supervisor's end-of-run summary: the workers' counts added up. Each worker's clock starts at
// its own process's start, so the merged run is timed from the supervisor's start instead.
import { emptyRunStats, type RunStats } from '../observability/run-stats.js';

export function mergeRunStats(parts: readonly RunStats[], startedAt: number): RunStats {
  const merged = emptyRunStats(startedAt);
  for (const part of parts) {
    merged.received += part.received;
    merged.loaded += part.loaded;
    merged.duplicates += part.duplicates;
    merged.quarantined += part.quarantined;
    merged.erased += part.erased;
    merged.deleted += part.deleted;
    merged.deleteFailures += part.deleteFailures;
    merged.released += part.released;
    for (const [reason, count] of Object.entries(part.quarantinedByReason) as [keyof RunStats['quarantinedByReason'], number][]) {
      merged.quarantinedByReason[reason] = (merged.quarantinedByReason[reason] ?? 0) + count;
    }
  }
  return merged;
}
