// Counts a run from its events, for the end-of-run report.
import type { RejectReason } from '../model/message.js';
import type { EventBus } from './events.js';

export interface RunStats {
  received: number;
  loaded: number;
  duplicates: number;
  quarantined: number;
  quarantinedByReason: Partial<Record<RejectReason, number>>;
  /** messages of erased users (tombstoned): deleted, stored nowhere */
  erased: number;
  deleted: number;
  deleteFailures: number;
  released: number;
  startedAt: number;
}

/** A run with nothing counted yet, timed from `startedAt`. */
export function emptyRunStats(startedAt: number): RunStats {
  return {
    received: 0,
    loaded: 0,
    duplicates: 0,
    quarantined: 0,
    quarantinedByReason: {},
    erased: 0,
    deleted: 0,
    deleteFailures: 0,
    released: 0,
    startedAt,
  };
}

export function collectRunStats(bus: EventBus): RunStats {
  const stats = emptyRunStats(performance.now());
  bus
    .on('source:received', ({ count }) => (stats.received += count))
    .on('batch:committed', ({ rows, duplicates, erased }) => {
      stats.loaded += rows;
      stats.duplicates += duplicates;
      stats.erased += erased ?? 0;
    })
    .on('message:quarantined', ({ reason }) => {
      stats.quarantined += 1;
      stats.quarantinedByReason[reason] = (stats.quarantinedByReason[reason] ?? 0) + 1;
    })
    .on('source:deleted', ({ count }) => (stats.deleted += count))
    .on('source:deletePartialFailure', ({ count, willRetry }) => {
      if (!willRetry) stats.deleteFailures += count;
    })
    .on('source:released', ({ count }) => (stats.released += count));
  return stats;
}
