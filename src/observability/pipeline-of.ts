// Which pipeline an event is about, for the consumers that count by pipeline (metrics, the progress
// line, the run's counts). A pipeline's events name it (withPipeline); a run of one pipeline may
// also emit unnamed events, which are then that pipeline's. Several pipelines: unnamed is the run's.
import { BUILTIN_LOGINS_NAME } from '../config/builtin-pipelines.js';

/** The pipelines of a run without a pipeline file: the take-home's logins. */
export const DEFAULT_PIPELINES: readonly string[] = [BUILTIN_LOGINS_NAME];

/** The pipeline `payload` is about, or undefined for the run as a whole (several pipelines, none named). */
export function pipelineOf(payload: { pipeline?: string }, pipelines: readonly string[]): string | undefined {
  return payload.pipeline ?? (pipelines.length === 1 ? pipelines[0] : undefined);
}
