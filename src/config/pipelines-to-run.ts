// Which pipelines `run` runs: the builtin logins without a pipeline file, the file's with one,
// narrowed by --pipeline NAME. The YAML parser (pipeline-file.ts and the yaml package: ~40 ms of CPU
// to load, 72 files) is loaded only when there is a file to read, so a run without one never pays it.
import type { PipelineSpec } from '../model/pipeline.js';
import { builtinLogins } from './builtin-pipelines.js';
import { choosePipeline } from './choose-pipeline.js';

/**
 * Without --config: one pipeline, the builtin logins, on the queue setting. With --pipeline NAME:
 * that pipeline alone, which must be one of the file's. (pipeline-file.ts's selectPipelines, the
 * same answer for callers that have the parser loaded already.)
 */
export async function pipelinesToRun(settings: { config?: string | undefined; pipeline?: string | undefined; queueUrl: string }, env: NodeJS.ProcessEnv): Promise<PipelineSpec[]> {
  if (settings.config === undefined) return choosePipeline([builtinLogins(settings.queueUrl)], settings.pipeline, undefined);
  const { loadPipelineFile } = await import('./pipeline-file.js');
  return choosePipeline(loadPipelineFile(settings.config, env).pipelines, settings.pipeline, settings.config);
}
