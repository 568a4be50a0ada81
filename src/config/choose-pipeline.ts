// Which of the pipelines a command has it runs: all of them, or the one --pipeline NAME names.
import { ConfigError } from '../errors.js';
import type { PipelineSpec } from '../model/pipeline.js';
import { BUILTIN_LOGINS_NAME } from './builtin-pipelines.js';

/** `all`, or the one named `name` (--pipeline), which must be among them; `file`: where they were declared. */
export function choosePipeline(all: PipelineSpec[], name: string | undefined, file: string | undefined): PipelineSpec[] {
  if (name === undefined) return all;
  const chosen = all.filter((spec) => spec.name === name);
  if (chosen.length > 0) return chosen;
  const where = file === undefined ? `without --config (SQS2PG_CONFIG) the one pipeline is ${BUILTIN_LOGINS_NAME}` : `${file} declares ${all.map((spec) => spec.name).join(', ')}`;
  throw new ConfigError(`--pipeline ${name} names no pipeline: ${where}; see: sqs2pg pipelines show`);
}
