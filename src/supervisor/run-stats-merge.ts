// The supervisor's end-of-run summary: the workers' counts added up, the run's and each pipeline's.
// Each worker's clock starts at its own process's start, so the merged run is timed from the
// supervisor's start instead.
import { addCounts, emptyRunStats, pipelineCounts, type RunStats } from '../observability/run-stats.js';

export function mergeRunStats(parts: readonly RunStats[], startedAt: number): RunStats {
  const merged = emptyRunStats(startedAt);
  for (const part of parts) {
    addCounts(merged, part);
    for (const [name, counts] of Object.entries(part.pipelines)) addCounts(pipelineCounts(merged, name), counts);
  }
  return merged;
}
