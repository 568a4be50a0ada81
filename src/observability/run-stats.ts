// Counts a run from its events, for the end-of-run report: the run's totals, and the same counts
// for each of its pipelines.
import type { RejectReason } from '../model/message.js';
import type { EventBus } from './events.js';
import { DEFAULT_PIPELINES, pipelineOf } from './pipeline-of.js';

/** What became of the messages read: of one pipeline, or of the whole run. */
export interface MessageCounts {
  received: number;
  loaded: number;
  duplicates: number;
  quarantined: number;
  quarantinedByReason: Partial<Record<RejectReason, number>>;
  /** messages of erased subjects (tombstoned): deleted, stored nowhere */
  erased: number;
  deleted: number;
  deleteFailures: number;
  released: number;
}

export interface RunStats extends MessageCounts {
  startedAt: number;
  /**
   * The same counts by pipeline name, each of the run's pipelines from the start. In a run of
   * several, what an event named no pipeline of is in the totals only.
   */
  pipelines: Record<string, MessageCounts>;
}

export function emptyCounts(): MessageCounts {
  return { received: 0, loaded: 0, duplicates: 0, quarantined: 0, quarantinedByReason: {}, erased: 0, deleted: 0, deleteFailures: 0, released: 0 };
}

/** A run with nothing counted yet, timed from `startedAt`. */
export function emptyRunStats(startedAt: number, pipelines: readonly string[] = []): RunStats {
  return { ...emptyCounts(), startedAt, pipelines: Object.fromEntries(pipelines.map((name) => [name, emptyCounts()])) };
}

/** `stats`'s counts of pipeline `name`, made at 0 if it has none yet (own keys only: a name may be `constructor`). */
export function pipelineCounts(stats: RunStats, name: string): MessageCounts {
  if (!Object.hasOwn(stats.pipelines, name)) stats.pipelines[name] = emptyCounts();
  return stats.pipelines[name]!;
}

/** Adds `part` to `into`. */
export function addCounts(into: MessageCounts, part: MessageCounts): void {
  into.received += part.received;
  into.loaded += part.loaded;
  into.duplicates += part.duplicates;
  into.quarantined += part.quarantined;
  into.erased += part.erased;
  into.deleted += part.deleted;
  into.deleteFailures += part.deleteFailures;
  into.released += part.released;
  for (const [reason, count] of Object.entries(part.quarantinedByReason) as [RejectReason, number][]) {
    into.quarantinedByReason[reason] = (into.quarantinedByReason[reason] ?? 0) + count;
  }
}

export function collectRunStats(bus: EventBus, pipelines: readonly string[] = DEFAULT_PIPELINES): RunStats {
  const stats = emptyRunStats(performance.now(), pipelines);
  /** the counts an event adds to: the run's, and its pipeline's when it has one */
  const countsOf = (payload: { pipeline?: string }): MessageCounts[] => {
    const pipeline = pipelineOf(payload, pipelines);
    return pipeline === undefined ? [stats] : [stats, pipelineCounts(stats, pipeline)];
  };
  bus
    .on('source:received', (event) => {
      for (const counts of countsOf(event)) counts.received += event.count;
    })
    .on('batch:committed', (event) => {
      for (const counts of countsOf(event)) {
        counts.loaded += event.rows;
        counts.duplicates += event.duplicates;
        counts.erased += event.erased ?? 0;
      }
    })
    .on('message:quarantined', (event) => {
      for (const counts of countsOf(event)) {
        counts.quarantined += 1;
        counts.quarantinedByReason[event.reason] = (counts.quarantinedByReason[event.reason] ?? 0) + 1;
      }
    })
    .on('source:deleted', (event) => {
      for (const counts of countsOf(event)) counts.deleted += event.count;
    })
    .on('source:deletePartialFailure', (event) => {
      if (event.willRetry) return;
      for (const counts of countsOf(event)) counts.deleteFailures += event.count;
    })
    .on('source:released', (event) => {
      for (const counts of countsOf(event)) counts.released += event.count;
    });
  return stats;
}
