// Pipelines written back as a pipeline file (`sqs2pg pipelines show`): every column in full, so a
// user can start from it; the builtin one valid as it stands, its fixed columns shown as comments.
import { stringify } from 'yaml';
import type { ColumnSpec, PipelineSpec } from '../model/pipeline.js';
import { formatColumnType, formatFieldSource } from './pipeline-schema.js';

export const SCHEMA_FILE = 'pipeline-file.schema.json';

/** A scalar as YAML reads it back as this very text: plain where that is safe, quoted otherwise. */
function scalar(text: string): string {
  return stringify(text, { lineWidth: 0 }).trimEnd();
}

function columnLine(column: ColumnSpec, width: number): string {
  const fields = [`from: ${scalar(formatFieldSource(column.from))}`, `type: ${formatColumnType(column.type)}`];
  if (column.required) fields.push('required: true');
  if (column.nullable) fields.push('nullable: true');
  if (column.pii !== 'none') fields.push(`pii: ${column.pii}`);
  return `${`${column.name}:`.padEnd(width + 1)} { ${fields.join(', ')} }`;
}

/** The pipeline's own envelope and payload settings, where it has them (else the process's apply). */
function wiringLines(spec: PipelineSpec): string[] {
  return [...(spec.envelope === undefined ? [] : [`envelope: ${spec.envelope}`]), ...(spec.s3Payloads === undefined ? [] : [`s3_payloads: ${spec.s3Payloads}`])];
}

function pipelineLines(spec: PipelineSpec, queue: string): string[] {
  const width = Math.max(...spec.columns.map((column) => column.name.length));
  const table = spec.table.schema === null ? spec.table.name : `${spec.table.schema}.${spec.table.name}`;
  const body = [
    `table: ${table}`,
    ...(spec.subject === null ? [] : [`subject: ${scalar(spec.subject.join('.'))}`]),
    'columns:',
    ...spec.columns.map((column) => `  ${columnLine(column, width)}`),
  ];
  const wiring = wiringLines(spec).map((line) => `    ${line}`);
  if (!spec.builtin) return [`  ${spec.name}:`, `    queue: ${scalar(queue)}`, ...wiring, ...body.map((line) => `    ${line}`)];
  const masked = spec.columns.filter((column) => column.pii === 'mask').map((column) => column.name);
  return [
    `  ${spec.name}:`,
    `    # The login pipeline, as sqs2pg runs it without a pipeline file. builtin: true keeps it exactly so;`,
    `    # the commented lines say what that means. For a pipeline of your own from it: drop builtin, give it`,
    `    # its own name, queue and table, and uncomment them. Its masks would then be keyed under the column`,
    `    # names (${masked.join(', ')}), not under ${spec.columns.filter((column) => column.pii === 'mask').map((column) => column.maskLabel).join(' and ')} as here: equal values, other masks.`,
    '    builtin: true',
    `    queue: ${scalar(queue)}`,
    ...wiring,
    ...body.map((line) => `    # ${line}`),
  ];
}

/**
 * A pipeline file holding `specs`; `queues` gives each queue as it should be written (the file's own
 * `${VAR}`, or the environment variable a user sets), defaulting to the resolved URL.
 */
export function renderPipelines(specs: readonly PipelineSpec[], queues: ReadonlyMap<string, string> = new Map()): string {
  return [
    `# yaml-language-server: $schema=./${SCHEMA_FILE}`,
    `# (sqs2pg pipelines schema > ${SCHEMA_FILE} writes the schema there; editors then complete this file)`,
    'pipelines:',
    ...specs.flatMap((spec) => pipelineLines(spec, queues.get(spec.name) ?? spec.queue)),
    '',
  ].join('\n');
}
