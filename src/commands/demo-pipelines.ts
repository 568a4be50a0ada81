// sqs2pg demo --config FILE: the demo for every pipeline of a file. Each gets a queue of its own on
// the embedded SQS server in place of the file's, and events: its --input file, or else the login
// sample (builtin) or events made from its declaration; then one drain by run's code, and a report
// of what each pipeline loaded and quarantined, with a few rows of each table.
import { lookAtTable } from '../db/inspect.js';
import { createPool } from '../db/pool.js';
import { generateDeclaredSample } from '../local/declared-sample.js';
import { fillQueue, startLocalStack } from '../local/local-stack.js';
import { loadLocalPipelines, onQueue, type LocalPipeline } from '../local/local-pipelines.js';
import { generateSample } from '../local/sample.js';
import { storedColumnsOf, type PipelineSpec } from '../model/pipeline.js';
import { formatPipelineSummary, formatRunSummary } from '../observability/report.js';
import { formatSending, progressWanted, throttledLine } from '../observability/progress.js';
import type { MessageCounts } from '../observability/run-stats.js';
import { sqsSocketsFor } from '../source/sqs/source.js';
import { cliInvocation } from './cli-invocation.js';
import { demoMaskKey, drainOnStack, type DemoConfig } from './demo-drain.js';

const count = new Intl.NumberFormat('en-US');
const ROWS_SHOWN = 3;

export async function demoPipelines(file: string, config: DemoConfig, env: NodeJS.ProcessEnv, say: (...lines: string[]) => void): Promise<number> {
  // Read before any server starts: a fault of the file or of an input file is one message, at once.
  const pipelines = loadLocalPipelines(file, env, config.input);
  const events = pipelines.map((pipeline) => eventsFor(pipeline, config.demoMessages));
  const showProgress = progressWanted(process.stderr, env, config.quiet);
  say('sqs2pg demo: starting an embedded SQS server (fauxqs) and an embedded PostgreSQL ...');
  const stack = await startLocalStack({
    postgresDir: `${config.dataDir}/postgres`,
    largestBody: Math.max(0, ...pipelines.map((pipeline) => pipeline.input?.largestBytes ?? 0)),
    maxSockets: sqsSocketsFor(config.pollers * pipelines.length),
    queues: pipelines.map((pipeline) => pipeline.queueName),
  });
  const cleanup: (() => Promise<void>)[] = [() => stack.stop()];
  try {
    const pool = createPool(stack.databaseUrl, config.dbPoolSize);
    cleanup.unshift(() => pool.end());
    const specs: PipelineSpec[] = [];
    const sent: string[] = [];
    const width = Math.max(...pipelines.map((pipeline) => pipeline.spec.name.length));
    for (const [i, pipeline] of pipelines.entries()) {
      const url = stack.queueUrls.get(pipeline.queueName)!;
      specs.push(onQueue(pipeline, url));
      const { bodies, what } = events[i]!;
      const sending = showProgress ? throttledLine(process.stderr) : undefined;
      await fillQueue(stack, bodies, (done) => sending?.draw(formatSending(done, bodies.length, process.stderr.columns, `messages to ${pipeline.queueName}`), done === bodies.length), url);
      sending?.done();
      sent.push(`  ${pipeline.spec.name.padEnd(width)}  ${queueLine(pipeline)}: ${what}`);
    }
    const maskKey = demoMaskKey(config);
    say(
      `PostgreSQL data folder: ${stack.dataDir}`,
      maskKey.note,
      `${file}: ${pipelines.length === 1 ? '1 pipeline, on an embedded queue' : `${pipelines.length} pipelines, each on an embedded queue`} of its own (${stack.sqsEndpoint}):`,
      ...sent,
      '',
    );

    const stats = await drainOnStack({ stack, pool, specs, maskKey, config, env, cleanup, say });

    const report = [`Drained ${pipelines.length === 1 ? 'the queue' : `the ${pipelines.length} queues`}:`, ...formatRunSummary(stats), ...formatPipelineSummary(stats)];
    for (const spec of specs) {
      const columns = storedColumnsOf(spec).filter((column) => column.role !== 'version_raw');
      const table = await lookAtTable(pool, spec, columns.map((column) => column.name), ROWS_SHOWN);
      const shortened = columns.map((column) => column.role === 'subject_key' || column.column?.pii === 'mask');
      report.push(
        '',
        `${spec.name}: ${pipelineLine(stats.pipelines[spec.name])}.`,
        `${tableName(spec)} now holds ${count.format(table.rows)} rows, and sqs2pg.quarantine ${count.format(table.quarantined)} of ${spec.name} (all runs).${table.rows > 0 ? ' A few rows:' : ''}`,
        ...(table.rows > 0 ? formatTable(columns.map((column) => column.name), table.sample, shortened) : []),
      );
    }
    say(
      ...report,
      '',
      maskKey.protection,
      '',
      'Next:',
      ...nextSteps(cliInvocation(), file),
      `Delete ${config.dataDir} to start afresh.`,
    );
    return 0;
  } finally {
    for (const step of cleanup) await step().catch(() => undefined);
  }
}

/** What a new user may want after the demo, with the commands as this checkout runs them. */
function nextSteps(cli: string, file: string): string[] {
  const steps = [
    [`${cli} local --config ${file}`, 'keep these servers running for your own "run --config"'],
    ['docs/pipelines.md, "The file"', 'declare your own event types'],
  ] as const;
  const width = Math.max(...steps.map(([command]) => command.length));
  return steps.map(([command, what]) => `  ${command.padEnd(width)}  ${what}`);
}

/** The events a pipeline is sent, and how the report names them. */
function eventsFor(pipeline: LocalPipeline, messages: number): { bodies: string[]; what: string } {
  const { input, spec } = pipeline;
  if (input) return { bodies: input.bodies, what: `${count.format(input.bodies.length)} events from ${input.path} (${input.format})` };
  const sample = spec.builtin ? generateSample({ count: messages }) : generateDeclaredSample(spec, { count: messages });
  const made = spec.builtin ? 'login events' : 'events made from its declaration';
  return { bodies: sample.bodies, what: `${count.format(sample.valid)} ${made} and ${count.format(sample.malformed)} malformed bodies` };
}

/** Which queue a pipeline read: the file's ${VAR} set to the embedded one, or the embedded one in place of the URL the file writes. */
function queueLine(pipeline: LocalPipeline): string {
  return pipeline.queueVar !== undefined
    ? `\${${pipeline.queueVar}} is queue ${pipeline.queueName}`
    : `queue ${pipeline.queueName}, in place of the file's ${pipeline.queueAsWritten}`;
}

function pipelineLine(counts: MessageCounts | undefined): string {
  if (!counts) return 'nothing read';
  const reasons = Object.entries(counts.quarantinedByReason)
    .sort(([, a], [, b]) => b - a)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  return `${count.format(counts.loaded)} rows loaded, ${count.format(counts.quarantined)} quarantined${reasons ? ` (${reasons})` : ''}`;
}

function tableName(spec: PipelineSpec): string {
  return spec.table.schema === null ? spec.table.name : `${spec.table.schema}.${spec.table.name}`;
}

/** Rows as aligned columns: masks shortened as the login demo shows them, long values cut. */
function formatTable(header: readonly string[], rows: readonly (string | null)[][], shortened: readonly boolean[]): string[] {
  const cell = (value: string | null, column: number) => {
    if (value === null) return 'null';
    if (shortened[column]) return `${value.slice(0, 14)}…`;
    return value.length > 40 ? `${value.slice(0, 39)}…` : value;
  };
  const table = [[...header], ...rows.map((row) => row.map(cell))];
  const widths = header.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  return table.map((row) => `  ${row.map((value, column) => value.padEnd(widths[column]!)).join('  ')}`.trimEnd());
}
