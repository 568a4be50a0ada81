// demo --config and local --config: every pipeline of a file on the embedded SQS server, each on a
// queue of its own named after it (page_views: page-views) in place of the queue the file names,
// with the events `--input PIPELINE=FILE` gives it. Read before any server starts, so that a fault
// of the file or of an input file is one message, at once.
import { loadPipelineFile } from '../config/pipeline-file.js';
import { nearestName } from '../config/nearest-name.js';
import { ConfigError } from '../errors.js';
import type { PipelineSpec } from '../model/pipeline.js';
import { readEventFile, type EventFile } from './event-file.js';

export interface LocalPipeline {
  /** the pipeline; its queue is a stand-in until the embedded one exists (onQueue) */
  spec: PipelineSpec;
  /** its queue's name on the embedded server */
  queueName: string;
  /** the queue as the file writes it */
  queueAsWritten: string;
  /** the variable the file's queue is (PAGE_VIEWS_QUEUE_URL for `${PAGE_VIEWS_QUEUE_URL}`); undefined for a URL written out */
  queueVar: string | undefined;
  /** the events its --input file holds */
  input: (EventFile & { path: string }) | undefined;
}

/** The embedded queue of a pipeline: its name, `_` as `-` (SQS takes both; queues are usually named so). */
export const queueNameOf = (pipeline: string): string => pipeline.replaceAll('_', '-');

/** The file's pipelines, each with its embedded queue's name and its --input events, read. */
export function loadLocalPipelines(file: string, env: NodeJS.ProcessEnv, inputs: readonly string[] = []): LocalPipeline[] {
  // A stand-in URL: the file's own queue is neither needed nor read (its ${VAR} need not be set).
  const { pipelines, queuesAsWritten } = loadPipelineFile(file, env, { queueOf: (name) => `http://127.0.0.1/000000000000/${queueNameOf(name)}` });
  const files = inputFiles(inputs, pipelines.map((spec) => spec.name), file);
  const local = pipelines.map((spec): LocalPipeline => {
    const written = queuesAsWritten.get(spec.name) ?? '';
    const path = files.get(spec.name);
    return {
      spec,
      queueName: queueNameOf(spec.name),
      queueAsWritten: written,
      queueVar: /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(written)?.[1],
      input: path === undefined ? undefined : { path, ...readEventFile(path) },
    };
  });
  // Given queues of their own here, two pipelines on one ${VAR} would pass; run refuses them.
  for (const [i, pipeline] of local.entries()) {
    const first = local.findIndex((other) => other.queueVar !== undefined && other.queueVar === pipeline.queueVar);
    if (first !== -1 && first < i) {
      throw new ConfigError(`${file}: pipelines ${local[first]!.spec.name} and ${pipeline.spec.name} both read \${${pipeline.queueVar!}}, and one queue feeds one pipeline: give each its own`);
    }
  }
  return local;
}

/** The pipeline reading the embedded queue at `url`. */
export function onQueue(pipeline: LocalPipeline, url: string): PipelineSpec {
  return { ...pipeline.spec, queue: url };
}

/** Pure: the `--input PIPELINE=FILE` values by pipeline; each names a pipeline of the file, once. */
export function inputFiles(values: readonly string[], names: readonly string[], file: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const value of values) {
    const at = value.indexOf('=');
    if (at < 1 || at === value.length - 1) {
      throw new ConfigError(`with --config, --input takes PIPELINE=FILE, once for each pipeline given events (${file} declares ${names.join(', ')})`);
    }
    const name = value.slice(0, at);
    if (!names.includes(name)) {
      const nearest = nearestName(name, names);
      throw new ConfigError(`--input ${name}=…: ${file} declares no pipeline ${name}; ${nearest ? `did you mean ${nearest}?` : `it declares ${names.join(', ')}`}`);
    }
    if (files.has(name)) throw new ConfigError(`--input ${name}=… is given twice: one file for each pipeline`);
    files.set(name, value.slice(at + 1));
  }
  return files;
}

/** Without --config: the one --input file, if any. */
export function singleInput(values: readonly string[] | undefined): string | undefined {
  if (values !== undefined && values.length > 1) {
    throw new ConfigError('--input is given more than once: without --config it takes one file (with --config, PIPELINE=FILE for each pipeline)');
  }
  return values?.[0];
}
