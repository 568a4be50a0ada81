// The pipeline file's shape (`--config FILE`): a zod schema the loader (pipeline-file.ts) checks a
// file with, and whose JSON Schema (`npm run docs` -> docs/pipeline-file.schema.json) editors complete.
// Shape only: the rules that span fields (builtin, pii on a type, one queue per pipeline) are the loader's.
import { z } from 'zod';
import { envelopeModes, MESSAGE_FACTS, MESSAGE_ID_COLUMN, s3PayloadModes, SUBJECT_KEY_COLUMN, type ColumnType, type FieldSource } from '../model/pipeline.js';

/** A PostgreSQL name sqs2pg never has to quote: lower-case, at most 63 bytes (NAMEDATALEN - 1). */
export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
/** A dotted path into the event: keys of letters, digits, `_` and `-`, joined by dots. */
export const FIELD_PATH = /^[A-Za-z0-9_-]{1,128}(\.[A-Za-z0-9_-]{1,128}){0,31}$/;
export const VARCHAR = /^varchar\(([1-9][0-9]{0,7})\)$/;
/** PostgreSQL's own ceiling for varchar(N). */
export const VARCHAR_MAX = 10_485_760;

/** The types a column may be declared with, as the file writes them (`varchar(N)` stands for any N). */
export const TYPE_NAMES = ['text', 'varchar(N)', 'integer', 'bigint', 'numeric', 'boolean', 'date', 'timestamptz', 'jsonb', 'ip', 'version'] as const;
const plainTypes = ['text', 'integer', 'bigint', 'numeric', 'boolean', 'date', 'timestamptz', 'jsonb', 'ip', 'version'] as const;
const factNames = Object.keys(MESSAGE_FACTS) as (keyof typeof MESSAGE_FACTS)[];

/** Bounds that keep a hostile file's cost small; a real one is far inside them. */
export const LIMITS = {
  /** yaml reads about 4 s a MiB on a busy 2-core machine: 256 KiB holds 1,500 columns and more */
  fileBytes: 262_144,
  /** nested `[` and `{`: YAML's composer costs memory per level (500 KiB of `[` took 0.5 GB) */
  flowDepth: 64,
  /** alias expansions (billion laughs): yaml's maxAliasCount */
  aliases: 100,
  pipelines: 100,
  /** PostgreSQL's 1,600 columns a table, less room for sqs2pg's own */
  columns: 1_500,
  /** faults printed; the rest are counted */
  faults: 100,
} as const;

/**
 * Column names sqs2pg keeps for itself in a table it loads: the message id that makes a redelivery
 * harmless, and the subject's key when no column holds the subject as read.
 */
export const RESERVED_COLUMNS: ReadonlySet<string> = new Set([MESSAGE_ID_COLUMN, SUBJECT_KEY_COLUMN]);

const required = (what: string, expected: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? `${what} is required` : expected.startsWith('expected') ? expected : `expected ${expected}`;

// A string that fails the union's second member reports that member's message: both say the same.
const fromExpected = `expected a dotted path into the event (visitor.id) or a message fact (${factNames.join(', ')})`;
const typeExpected = `expected one of ${TYPE_NAMES.join(', ')}`;

function isHttpUrl(text: string): boolean {
  // URL() would drop a newline or a tab silently, and encode a space: none belongs in a queue's URL.
  if (/[\s\p{Cc}]/u.test(text) || !URL.canParse(text)) return false;
  const { protocol, hostname } = new URL(text);
  return (protocol === 'http:' || protocol === 'https:') && hostname !== '';
}

export const columnSchema = z
  .strictObject({
    from: z
      .union([z.enum(factNames), z.string().regex(FIELD_PATH, fromExpected)], { error: required('from', fromExpected) })
      .meta({ description: `Where the value comes from: a dotted path into the event (visitor.id), or a message fact: ${factNames.join(', ')}.` }),
    type: z
      .union([z.enum(plainTypes), z.string().regex(VARCHAR, typeExpected)], { error: required('type', typeExpected) })
      .meta({ description: 'The type the value must have. ip: an address, stored in its canonical form; version: the app_version rule (1.2.3 as an integer).' }),
    required: z
      .boolean({ error: 'expected true or false' })
      .optional()
      .meta({ description: 'true: a message without the field (or with null) is refused as missing_field. Default false: the column is NULL.' }),
    nullable: z
      .boolean({ error: 'expected true or false' })
      .optional()
      .meta({ description: 'With required: true, null is accepted (the field must still be present). Default false.' }),
    pii: z
      .enum(['none', 'mask', 'seal'], { error: 'expected none, mask or seal' })
      .optional()
      .meta({ description: "mask: store k1: + a keyed HMAC of the value (the original sealed in the vault when it is on); seal: store NULL, keep only the sealed original. Default none." }),
  }, { error: 'expected a map: { from, type, required, nullable, pii }' })
  .meta({ description: 'One column of the table, read from the event.' });

export const pipelineSchema = z
  .strictObject({
    builtin: z
      .literal(true, { error: 'expected true (or leave builtin out, for a pipeline of your own)' })
      .optional()
      .meta({ description: "true: today's login pipeline into user_logins (ip and device_id masked); it takes queue, and envelope and s3_payloads, nothing else." }),
    // A refinement rather than z.url(): the JSON Schema's format "uri" would have editors flag ${VAR}.
    queue: z
      .string({ error: required('queue', "the queue's http(s) URL") })
      .refine(isHttpUrl, "expected the queue's http(s) URL")
      .meta({ description: 'The URL of the SQS queue to read; ${VAR} takes it from the environment.' }),
    table: z
      .string({ error: 'expected a table name' })
      .optional()
      .meta({ description: 'The table to load: name or schema.name, lower-case. Default: the pipeline\'s name.', pattern: `^${IDENTIFIER.source.slice(1, -1)}(\\.${IDENTIFIER.source.slice(1, -1)})?$` }),
    subject: z
      .string({ error: 'expected a dotted path into the event' })
      .regex(FIELD_PATH, 'expected a dotted path into the event (visitor.id), not a message fact')
      .optional()
      .meta({ description: 'The path to whose data a message is: forget --subject and tombstones match on it. Default: nobody\'s.' }),
    columns: z
      .record(z.string(), columnSchema, { error: 'expected a map of column name to { from, type, ... }' })
      .optional()
      .meta({ description: 'The table\'s columns, in the order their faults are checked.', propertyNames: { pattern: IDENTIFIER.source } }),
    envelope: z
      .enum(envelopeModes, { error: `expected ${envelopeModes.slice(0, -1).join(', ')} or ${envelopeModes.at(-1)}` })
      .optional()
      .meta({ description: "The envelopes around this queue's events, as --envelope says (auto, none, sns, eventbridge). Default: --envelope's." }),
    s3_payloads: z
      .enum(s3PayloadModes, { error: 'expected resolve or off' })
      .optional()
      .meta({ description: "This queue's bodies offloaded to S3 by the SQS extended client, as --s3-payloads says (resolve, off). Default: --s3-payloads'." }),
  }, { error: 'expected a map: { queue, table, subject, columns } (or { builtin: true, queue })' })
  .meta({ description: 'One pipeline: a queue into a table.' });

export const pipelineFileSchema = z
  .strictObject(
    {
      pipelines: z
        .record(z.string(), pipelineSchema, { error: required('pipelines', 'a map of pipeline name to { queue, table, columns, ... }') })
        .meta({ description: 'The pipelines, by name (lower-case: metrics, quarantine records and --pipeline NAME use it).', propertyNames: { pattern: IDENTIFIER.source } }),
    },
    { error: 'expected a map whose one key is pipelines' },
  )
  .meta({ title: 'sqs2pg pipeline file', description: 'Pipelines, each a queue into a table: sqs2pg run --config FILE.' });

export type PipelineFileInput = z.input<typeof pipelineFileSchema>;

/** The keys an object at this depth of the file may have, for "did you mean". */
export function knownKeysAt(path: readonly PropertyKey[]): readonly string[] {
  if (path.length === 0) return Object.keys(pipelineFileSchema.shape);
  if (path.length === 2) return Object.keys(pipelineSchema.shape);
  if (path.length === 4) return Object.keys(columnSchema.shape);
  return [];
}

/** The JSON Schema of the file, for editors (yaml-language-server and the like). */
export function pipelineFileJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(pipelineFileSchema, { target: 'draft-7', io: 'input' });
}

/** A type as the file writes it (`varchar(64)`), or undefined. */
export function parseColumnType(text: string): ColumnType | undefined {
  const varchar = VARCHAR.exec(text);
  if (varchar) return { kind: 'varchar', length: Number(varchar[1]) };
  return (plainTypes as readonly string[]).includes(text) ? ({ kind: text } as ColumnType) : undefined;
}

export function formatColumnType(type: ColumnType): string {
  return type.kind === 'varchar' ? `varchar(${type.length})` : type.kind;
}

/** `from:` as the file writes it: a message fact's name or a dotted path. */
export function parseFieldSource(text: string): FieldSource {
  const fact = Object.hasOwn(MESSAGE_FACTS, text) ? MESSAGE_FACTS[text as keyof typeof MESSAGE_FACTS] : undefined;
  return fact ? { kind: fact } : { kind: 'path', path: text.split('.') };
}

export function formatFieldSource(source: FieldSource): string {
  if (source.kind === 'path') return source.path.join('.');
  return `$${source.kind}`;
}
