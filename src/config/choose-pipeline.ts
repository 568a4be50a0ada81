// Which pipelines a command runs: the builtin logins without a pipeline file, the file's with one,
// narrowed by --pipeline NAME. The YAML parser (pipeline-file.ts and the yaml package: ~40 ms of CPU
// to load, 72 files) is loaded only when there is a file to read, so a run without one never pays it.
import { ConfigError } from '../errors.js';
import type { PipelineSpec } from '../model/pipeline.js';
import { builtinLogins, BUILTIN_LOGINS_NAME } from './builtin-pipelines.js';

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

/** `all`, or the one named `name` (--pipeline), which must be among them; `file`: where they were declared. */
export function choosePipeline(all: PipelineSpec[], name: string | undefined, file: string | undefined): PipelineSpec[] {
  if (name === undefined) return all;
  const chosen = all.filter((spec) => spec.name === name);
  if (chosen.length > 0) return chosen;
  const where = file === undefined ? `without --config (SQS2PG_CONFIG) the one pipeline is ${BUILTIN_LOGINS_NAME}` : `${file} declares ${all.map((spec) => spec.name).join(', ')}`;
  throw new ConfigError(`--pipeline ${name} names no pipeline: ${where}; see: sqs2pg pipelines show`);
}
