// sqs2pg pipelines show [<name>] | validate <file> | schema: the pipeline file, without a queue or a
// database. show prints a pipeline as YAML to start from; validate every fault of a file (exit 2) or
// one line per pipeline; schema the file's JSON Schema, for editors.
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { builtinLogins } from '../config/builtin-pipelines.js';
import { choosePipeline } from '../config/choose-pipeline.js';
import { loadPipelineFile } from '../config/pipeline-file.js';
import { pipelineFileJsonSchema } from '../config/pipeline-schema.js';
import { renderPipelines } from '../config/pipeline-yaml.js';
import { ConfigError } from '../errors.js';
import type { PipelineSpec } from '../model/pipeline.js';

const USAGE = 'pipelines needs "show [<name>]", "validate <file>" or "schema"; see: sqs2pg pipelines --help';

export function pipelines(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return Promise.resolve(pipelinesSync(args, env));
}

function pipelinesSync(args: readonly string[], env: NodeJS.ProcessEnv): number {
  const [action, ...rest] = args;
  const known = action === 'show' || action === 'validate' || action === 'schema';
  // validate's argument is the file: given to the loader as --config, which it stands for.
  const file = action === 'validate' && rest[0] !== undefined && !rest[0].startsWith('-') ? rest[0] : undefined;
  if (file !== undefined && rest.slice(1).some((arg) => arg === '--config' || arg.startsWith('--config='))) {
    throw new ConfigError('give the file either as the argument of validate or as --config, not both; see: sqs2pg pipelines --help');
  }
  const { config, help } = loadConfig('pipelines', !known ? args : file !== undefined ? ['--config', file, ...rest.slice(1)] : rest, env);
  if (help) {
    console.log(renderHelp('pipelines', help === 'all'));
    return 0;
  }
  if (!known) throw new ConfigError(USAGE);
  if (action === 'schema') {
    console.log(JSON.stringify(pipelineFileJsonSchema(), null, 2));
    return 0;
  }
  if (action === 'validate') {
    if (config.config === undefined) throw new ConfigError('pipelines validate needs <file> (or --config, SQS2PG_CONFIG); see: sqs2pg pipelines --help');
    const loaded = loadPipelineFile(config.config, env);
    const chosen = choosePipeline(loaded.pipelines, config.pipeline, config.config);
    const width = Math.max(...chosen.map((spec) => spec.name.length));
    console.log(`ok: ${config.config} declares ${loaded.pipelines.length} pipeline${loaded.pipelines.length === 1 ? '' : 's'}`);
    for (const spec of chosen) console.log(`  ${spec.name.padEnd(width)}  ${summary(spec)}`);
    return 0;
  }
  if (config.config === undefined) {
    // Without a file, the one pipeline run has: the builtin, on the queue setting's variable.
    const shown = choosePipeline([builtinLogins('${SQS_QUEUE_URL}')], config.pipeline, undefined);
    process.stdout.write(renderPipelines(shown));
    return 0;
  }
  const loaded = loadPipelineFile(config.config, env);
  process.stdout.write(renderPipelines(choosePipeline(loaded.pipelines, config.pipeline, config.config), loaded.queuesAsWritten));
  return 0;
}

/** "queue …, table page_views, 7 columns (2 masked), subject visitor.id" */
export function summary(spec: PipelineSpec): string {
  const table = spec.table.schema === null ? spec.table.name : `${spec.table.schema}.${spec.table.name}`;
  const masked = spec.columns.filter((column) => column.pii === 'mask').length;
  const sealed = spec.columns.filter((column) => column.pii === 'seal').length;
  const personal = [masked > 0 ? `${masked} masked` : '', sealed > 0 ? `${sealed} sealed` : ''].filter(Boolean).join(', ');
  return [
    spec.builtin ? 'builtin login pipeline:' : '',
    `queue ${spec.queue}, table ${table}, ${spec.columns.length} column${spec.columns.length === 1 ? '' : 's'}${personal ? ` (${personal})` : ''},`,
    (spec.subject === null ? 'no subject' : `subject ${spec.subject.join('.')}`) +
      (spec.envelope === undefined ? '' : `, envelope ${spec.envelope}`) +
      (spec.s3Payloads === undefined ? '' : `, s3_payloads ${spec.s3Payloads}`),
  ]
    .filter(Boolean)
    .join(' ');
}
