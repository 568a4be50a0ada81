// Reads a pipeline file (--config FILE) into PipelineSpecs, or a PipelineFileError that lists every
// fault at once, each with its file:line:col and field. A fault never quotes a value: one may have
// come from the environment (${VAR}), where a secret can sit. Keys are quoted (the file's own text).
import { readFileSync, statSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { isAlias, isMap, isPair, isScalar, isSeq, Lexer, LineCounter, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { ConfigError, PipelineFileError, type PipelineFileFault } from '../errors.js';
import type { ColumnSpec, PipelineSpec, TableName } from '../model/pipeline.js';
import { builtinLogins, BUILTIN_LOGINS_NAME } from './builtin-pipelines.js';
import { choosePipeline } from './choose-pipeline.js';
import { nearestName } from './nearest-name.js';
import {
  FIELD_PATH,
  IDENTIFIER,
  knownKeysAt,
  LIMITS,
  parseColumnType,
  parseFieldSource,
  pipelineFileSchema,
  RESERVED_COLUMNS,
  VARCHAR_MAX,
  type PipelineFileInput,
} from './pipeline-schema.js';
import { RESERVED_SQL_WORDS } from './sql-keywords.js';

export interface PipelineFile {
  pipelines: PipelineSpec[];
  /** each pipeline's queue as the file writes it (`${LOGINS_QUEUE_URL}`), for `pipelines show` */
  queuesAsWritten: ReadonlyMap<string, string>;
}

export interface PipelineFileOptions {
  /**
   * Each pipeline's queue, by name, instead of the file's (demo and local, whose queues are the
   * embedded server's): the file's queue is then neither read from the environment nor checked.
   */
  queueOf?: (pipeline: string) => string;
}

/** Reads and checks FILE; throws a ConfigError when it cannot be read, a PipelineFileError when it is wrong. */
export function loadPipelineFile(file: string, env: NodeJS.ProcessEnv, options: PipelineFileOptions = {}): PipelineFile {
  let bytes: Buffer;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new ConfigError(`the pipeline file ${file} is not a regular file; check --config (SQS2PG_CONFIG)`);
    // Refused before reading: a file this large is no pipeline file, and parsing it would cost seconds.
    if (stat.size > LIMITS.fileBytes) throw new PipelineFileError(file, [tooLarge(stat.size)]);
    bytes = readFileSync(file);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`cannot read the pipeline file ${file} (${code}); check --config (SQS2PG_CONFIG)`);
  }
  return parsePipelineFile(bytes, env, file, options);
}

/**
 * Without --config: one pipeline, the builtin logins, on the queue setting. With --pipeline NAME:
 * that pipeline alone, which must be one of the file's.
 */
export function selectPipelines(
  settings: { config?: string | undefined; pipeline?: string | undefined; queueUrl: string },
  env: NodeJS.ProcessEnv,
): PipelineSpec[] {
  const all = settings.config === undefined ? [builtinLogins(settings.queueUrl)] : loadPipelineFile(settings.config, env).pipelines;
  return choosePipeline(all, settings.pipeline, settings.config);
}

type Path = readonly (string | number)[];
interface Fault {
  path: Path;
  /** where to point: at the value, or at the key that names it */
  on: 'value' | 'key';
  message: string;
  /** where it is, when known already (a key written twice) */
  offset?: number;
  /** a ${VAR} that is not set: the value's other faults judged an empty string, and are dropped */
  unset?: true;
}

/** Checks a pipeline file's bytes; `file` names it in faults. */
export function parsePipelineFile(source: Buffer | string, env: NodeJS.ProcessEnv, file = 'pipelines.yaml', options: PipelineFileOptions = {}): PipelineFile {
  const bytes = typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
  if (bytes.length > LIMITS.fileBytes) throw new PipelineFileError(file, [tooLarge(bytes.length)]);
  if (!isUtf8(bytes)) throw new PipelineFileError(file, [notUtf8(bytes)]);
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');

  const lineCounter = new LineCounter();
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  const deep = tooDeep(text);
  if (deep !== undefined) {
    lineCounter.addNewLine(0);
    for (const match of text.matchAll(/\n/g)) lineCounter.addNewLine(match.index + 1);
    throw new PipelineFileError(file, [{ ...at(deep), field: '', message: `more than ${LIMITS.flowDepth} nested [ or {: refused (no pipeline file needs them, and each level costs memory to read)` }]);
  }

  // Keys written twice are found below, in one pass: yaml's own check compares every key of a map
  // with every other (a 1 MiB file of one map took 15 s instead of 4).
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, version: '1.2' });
  // Any YAML error makes what follows guesswork: those alone are reported.
  if (doc.errors.length > 0) {
    throw failure(
      file,
      doc.errors.map((error) => ({ ...at(error.pos[0]), field: '', message: `not YAML: ${parserReason(error.message)}` })),
    );
  }

  const faults: Fault[] = [];
  const queuesAsWritten = new Map<string, string>();
  walkValues(doc, env, faults, queuesAsWritten, options.queueOf);

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: LIMITS.aliases });
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    const alias = firstAlias(doc);
    throw failure(file, [{ ...at(alias?.range?.[0] ?? 0), field: '', message: `aliases expand to more than ${LIMITS.aliases} nodes: refused as a resource-exhaustion attack (billion laughs)` }]);
  }

  // A value whose ${VAR} is missing has had its fault said: what the schema makes of the rest is noise.
  const unset = new Set(faults.filter((fault) => fault.unset).map((fault) => fault.path.join('.')));
  const shape = pipelineFileSchema.safeParse(value);
  if (!shape.success) {
    for (const issue of shape.error.issues) {
      const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
      if (unset.has(path.join('.'))) continue;
      if (issue.code === 'unrecognized_keys') {
        const known = knownKeysAt(path);
        for (const key of issue.keys) faults.push({ path: [...path, key], on: 'key', message: unknownKey(key, known) });
      } else {
        faults.push({ path, on: 'value', message: issue.message });
      }
    }
  }
  const rules: Fault[] = [];
  ruleFaults(value, rules);
  faults.push(...rules.filter((fault) => !unset.has(fault.path.join('.'))));

  const locate = locator(doc);
  const located = faults.map((fault) => ({ ...at(fault.offset ?? locate(fault)), field: fieldText(fault.path), message: fault.message }));
  if (located.length > 0) throw failure(file, located);

  const input = (shape.data as PipelineFileInput).pipelines;
  const pipelines = Object.entries(input).map(([name, spec]): PipelineSpec => {
    // Absent: the process-wide setting applies (worker.ts).
    const wiring = { ...(spec.envelope && { envelope: spec.envelope }), ...(spec.s3_payloads && { s3Payloads: spec.s3_payloads }) };
    if (spec.builtin) return { ...builtinLogins(spec.queue, name), ...wiring };
    return {
      ...wiring,
      name,
      builtin: false,
      queue: spec.queue,
      table: parseTable(spec.table ?? name),
      subject: spec.subject === undefined ? null : spec.subject.split('.'),
      columns: Object.entries(spec.columns ?? {}).map(
        ([column, c]): ColumnSpec => ({
          name: column,
          from: parseFieldSource(c.from),
          type: parseColumnType(c.type)!,
          required: c.required ?? false,
          nullable: c.nullable ?? false,
          pii: c.pii ?? 'none',
          maskLabel: column,
        }),
      ),
    };
  });
  return { pipelines, queuesAsWritten };
}

function failure(file: string, faults: PipelineFileFault[]): PipelineFileError {
  const sorted = [...faults].sort((a, b) => a.line - b.line || a.col - b.col || a.field.localeCompare(b.field) || a.message.localeCompare(b.message));
  return new PipelineFileError(file, sorted.slice(0, LIMITS.faults), Math.max(0, sorted.length - LIMITS.faults));
}

/** The YAML parser's reason, on one line: it may quote a token of the file, shown cut and with control characters escaped. */
function parserReason(message: string): string {
  const line = message.split('\n')[0]!.replace(/ at line \d+, column \d+.*$/, '');
  const cut = line.length > 160 ? `${line.slice(0, 160)}…` : line;
  return cut.replace(/\p{Cc}/gu, (char) => JSON.stringify(char).slice(1, -1));
}

function tooLarge(size: number): PipelineFileFault {
  return { line: 1, col: 1, field: '', message: `${size} bytes: a pipeline file is at most ${LIMITS.fileBytes} bytes (256 KiB)` };
}

/** The first line that is not UTF-8 (a file saved as Latin-1 or UTF-16): line by line, so the fault can say where. */
function notUtf8(bytes: Buffer): PipelineFileFault {
  let line = 1;
  let start = 0;
  while (start <= bytes.length) {
    const end = bytes.indexOf(0x0a, start);
    const stop = end === -1 ? bytes.length : end;
    if (!isUtf8(bytes.subarray(start, stop))) break;
    line++;
    start = stop + 1;
  }
  return { line, col: 1, field: '', message: 'not UTF-8 text: save the file as UTF-8' };
}

/** The offset where flow collections nest deeper than the limit, read by yaml's lexer (cheap: no tree is built). */
function tooDeep(text: string): number | undefined {
  // The lexer's own control tokens (document start, scalar, flow end) are not source text.
  const control = new Set(['\u0002', '\u0018', '\u001f', '\uFEFF']);
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') {
      if (++depth > LIMITS.flowDepth) return offset;
    } else if (token === ']' || token === '}') {
      depth = Math.max(0, depth - 1);
    }
    if (!control.has(token)) offset += token.length;
  }
  return undefined;
}

/**
 * One pass over the tree: keys written twice, and `${VAR}` in scalar values, from the environment
 * (`$${` is a literal `${`). Values only, never keys, and as text: `required: ${X}` is the text
 * "true", not true. Done on the parsed tree, not the text, so a value cannot add YAML of its own.
 */
function walkValues(doc: Document, env: NodeJS.ProcessEnv, faults: Fault[], queuesAsWritten: Map<string, string>, queueOf: PipelineFileOptions['queueOf']): void {
  const walk = (node: unknown, path: (string | number)[]): void => {
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = keyText(pair.key);
        if (seen.has(key)) faults.push({ path: [...path, key], on: 'key', message: 'a key written twice in one map', offset: rangeOf(pair.key) ?? 0 });
        seen.add(key);
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    } else if (isScalar(node) && typeof node.value === 'string') {
      if (path.length === 3 && path[0] === 'pipelines' && path[2] === 'queue') {
        queuesAsWritten.set(String(path[1]), node.value);
        if (queueOf) {
          node.value = queueOf(String(path[1]));
          return;
        }
      }
      if (!node.value.includes('$')) return;
      const problems: string[] = [];
      node.value = node.value.replace(/\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{/g, (match, name: string | undefined) => {
        if (match === '$${') return '${';
        if (name === undefined) {
          problems.push('a "${" opens no ${NAME} (letters, digits and _, then "}"); write "$${" for a literal "${"');
          return match;
        }
        const found = env[name];
        if (found === undefined || found === '') problems.push(`\${${name}} is not set in the environment (or is empty)`);
        return found ?? '';
      });
      for (const message of problems) faults.push({ path, on: 'value', message, unset: true });
    }
  };
  walk(doc.contents, []);
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function firstAlias(doc: Document): Node | undefined {
  let found: Node | undefined;
  const walk = (node: unknown): void => {
    if (found) return;
    if (isAlias(node)) found = node;
    else if (isMap(node)) for (const pair of node.items) walk(pair.value);
    else if (isSeq(node)) for (const item of node.items) walk(item);
  };
  walk(doc.contents);
  return found;
}

function rangeOf(node: unknown): number | undefined {
  return (node as { range?: [number, number, number] } | undefined)?.range?.[0];
}

/**
 * Where a fault points (an offset): its value or its key; a missing key points at the key of the map
 * that lacks it. Each map's keys are indexed once, so thousands of faults cost no more than one pass.
 */
function locator(doc: Document): (fault: Fault) => number {
  const indexes = new Map<YAMLMap, Map<string, Pair>>();
  const pairOf = (map: YAMLMap, key: string): Pair | undefined => {
    let index = indexes.get(map);
    if (!index) {
      index = new Map();
      for (const item of map.items) if (!index.has(keyText(item.key))) index.set(keyText(item.key), item);
      indexes.set(map, index);
    }
    return index.get(key);
  };
  return (fault) => {
    let node: unknown = doc.contents;
    let keyNode: unknown;
    let reached = true;
    for (const step of fault.path) {
      if (isAlias(node)) node = node.resolve(doc);
      const pair = isMap(node) ? pairOf(node, String(step)) : undefined;
      if (isPair(pair)) {
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof step === 'number' && node.items[step] !== undefined) {
        node = node.items[step];
      } else {
        reached = false;
        break;
      }
    }
    return rangeOf(!reached || fault.on === 'key' ? keyNode : (node ?? keyNode)) ?? 0;
  };
}

/** A field's path for a fault: plain keys as they are, any other quoted as JSON and cut, so no key can write to the terminal. */
function fieldText(path: Path): string {
  return path
    .map((key) => {
      const text = String(key);
      return /^[\w$-]{1,64}$/.test(text) ? text : JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
    })
    .join('.');
}

function unknownKey(key: string, known: readonly string[]): string {
  // Quoted as JSON: a control character in a key (an escape sequence for the terminal) is shown, not sent.
  const shown = JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
  const nearest = nearestName(key, known);
  if (nearest !== undefined) return `unknown key ${shown}; did you mean ${nearest}?`;
  return known.length > 0 ? `unknown key ${shown}; expected ${known.join(', ')}` : `unknown key ${shown}`;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A name PostgreSQL takes unquoted, and not one of its reserved words. */
function nameFault(name: string, what: string): string | undefined {
  // zod's records skip this key altogether (neither checked nor kept): refused here, by name.
  if (name === '__proto__') return `${what} "__proto__" means something else to JavaScript; choose another`;
  if (!IDENTIFIER.test(name)) return `${what} must be a lower-case name: letters a-z, digits and _, not starting with a digit, at most 63`;
  if (RESERVED_SQL_WORDS.has(name)) return `${what} "${name}" is a reserved word in SQL (every query would have to quote it); choose another`;
  return undefined;
}

function parseTable(text: string): TableName {
  const [first, second] = text.split('.') as [string, string | undefined];
  return second === undefined ? { schema: null, name: first } : { schema: first, name: second };
}

/** The rules that span fields or pipelines, checked on whatever parts of the file are well-formed. */
function ruleFaults(value: unknown, faults: Fault[]): void {
  const add = (path: Path, message: string, on: 'value' | 'key' = 'value') => faults.push({ path, on, message });
  if (!isRecord(value) || !isRecord(value.pipelines)) return;
  const entries = Object.entries(value.pipelines);
  if (entries.length === 0) add(['pipelines'], 'no pipeline: declare at least one', 'key');
  if (entries.length > LIMITS.pipelines) add(['pipelines'], `${entries.length} pipelines: at most ${LIMITS.pipelines} in one file`, 'key');
  const queues = new Map<string, string>();
  const tables = new Map<string, string>();
  for (const [name, spec] of entries) {
    const here = ['pipelines', name];
    const bad = nameFault(name, 'a pipeline name');
    if (bad) add(here, bad, 'key');
    if (!isRecord(spec)) continue;
    const builtin = spec.builtin === true;
    if (builtin) {
      for (const key of ['table', 'subject', 'columns']) {
        if (key in spec) add([...here, key], `a builtin pipeline takes no ${key}: its table (user_logins), subject and columns are fixed (sqs2pg pipelines show ${BUILTIN_LOGINS_NAME} prints them)`, 'key');
      }
    } else if (!('columns' in spec)) {
      add(here, 'a pipeline of your own needs columns (or builtin: true, for the login pipeline)', 'key');
    }

    if (typeof spec.queue === 'string' && URL.canParse(spec.queue)) {
      const queue = new URL(spec.queue).href;
      const other = queues.get(queue);
      if (other !== undefined) add([...here, 'queue'], `the same queue as pipeline ${other}: one queue feeds one pipeline (two would split its messages between two tables)`);
      else queues.set(queue, name);
    }

    // The table: user_logins for the builtin, else as written, else the pipeline's name (checked as that name is).
    let table: string | undefined;
    if (builtin) table = 'user_logins';
    else if (spec.table === undefined) table = bad ? undefined : name;
    else if (typeof spec.table === 'string') {
      const parts = spec.table.split('.');
      const what = parts.length === 2 ? 'each part of schema.name' : 'a table name';
      const problem = parts.length > 2 ? 'a table is name or schema.name' : parts.map((part) => nameFault(part, what)).find(Boolean);
      if (problem) add([...here, 'table'], problem);
      else table = spec.table;
    }
    if (table !== undefined) {
      // An unqualified table is public's for this comparison: the schema a default search path finds.
      const qualified = table.includes('.') ? table : `public.${table}`;
      const other = tables.get(qualified);
      const written = typeof spec.table === 'string' && !builtin;
      if (other !== undefined) add(written ? [...here, 'table'] : here, `the same table as pipeline ${other}: one table is loaded by one pipeline`, written ? 'value' : 'key');
      else tables.set(qualified, name);
    }

    if (!builtin && isRecord(spec.columns)) columnFaults(spec.columns, [...here, 'columns'], add);
  }
}

function columnFaults(columns: Record<string, unknown>, here: Path, add: (path: Path, message: string, on?: 'value' | 'key') => void): void {
  const entries = Object.entries(columns);
  if (entries.length === 0) add(here, 'no column: declare at least one', 'key');
  if (entries.length > LIMITS.columns) add(here, `${entries.length} columns: at most ${LIMITS.columns} (PostgreSQL's 1,600 a table, less sqs2pg's own)`, 'key');
  for (const [name, column] of entries) {
    const path = [...here, name];
    const version = name.endsWith('_raw') ? columns[name.slice(0, -4)] : undefined;
    const bad = RESERVED_COLUMNS.has(name)
      ? `column ${name} is sqs2pg's own; choose another name`
      : isRecord(version) && version.type === 'version' && (version.pii ?? 'none') === 'none'
        ? `column ${name} is where the version column ${name.slice(0, -4)} keeps the text it was read from; choose another name`
        : nameFault(name, 'a column name');
    if (bad) add(path, bad, 'key');
    if (!isRecord(column)) continue;
    const from = typeof column.from === 'string' && (FIELD_PATH.test(column.from) || column.from.startsWith('$')) ? parseFieldSource(column.from) : undefined;
    const type = typeof column.type === 'string' ? parseColumnType(column.type) : undefined;
    const pii = column.pii;

    if (column.nullable === true && column.required !== true) add([...path, 'nullable'], 'nullable: true needs required: true (a field not required may already be absent or null)');
    if (type?.kind === 'varchar' && type.length > VARCHAR_MAX) add([...path, 'type'], `varchar(N) takes N up to ${VARCHAR_MAX} (PostgreSQL's limit); use text for longer`);
    if (from !== undefined && from.kind !== 'path') {
      const fact = `$${from.kind}`;
      if (pii === 'mask' || pii === 'seal') add([...path, 'pii'], `${fact} is a fact of the message, not personal data: leave pii out`);
      const fits =
        type === undefined ||
        (from.kind === 'sent_date' && type.kind === 'date') ||
        (from.kind === 'sent_at' && type.kind === 'timestamptz') ||
        (from.kind === 'message_id' && (type.kind === 'text' || (type.kind === 'varchar' && type.length >= 128)));
      const expected = { sent_date: 'date', sent_at: 'timestamptz', message_id: 'text or varchar(128)' }[from.kind];
      if (!fits) add([...path, 'type'], `${fact} is a ${expected}: declare the column so`);
    }
    if (pii === 'mask' && type?.kind === 'boolean') add([...path, 'pii'], 'pii: mask on a boolean hides nothing (two values, two masks): use pii: seal');
  }
}
