// Any declared event, read into its table's row: each column's value found by its path, checked as
// its type, masked or sealed as declared. Compiled once per pipeline into one closure, so that a
// message costs what the hand-written login reader costs (bench/event-reader.ts measures both).
// Pure and total: a rejection, never an exception, for any parsed body.
import { storedColumnsOf, subjectEntryField, type ColumnSpec, type PipelineSpec } from '../model/pipeline.js';
import { columnReaderOf, hasBadChar, type Refusal } from './column-value.js';
import { isCleanText, isLongerThan } from './login-event.js';
import type { Masker } from './mask.js';
import { sentAt, sentDate } from './sent-date.js';
import type { InboundMessage, RejectReason } from '../model/message.js';

/** A value behind a mask (or a sealed column), for the vault. Personal data in clear. */
export interface DeclaredOriginal {
  /** the mask, or a sealed column's reference (Masker.sealRef): the vault entry's name */
  mask: string;
  /** the column's maskLabel, under whose key the mask was made; for a keyed subject, subjectEntryField(scope) and its key */
  label: string;
  /** the canonical text, as masked */
  value: string;
}

export interface EventRow {
  /** storedColumnsOf(spec)'s values in its order, as text parameters; null is NULL */
  values: (string | null)[];
  /** the keyed hash of the subject's value (the login pipeline: Masker.userKey); null: no subject */
  subjectKey: string | null;
  /** empty unless asked for (see ReaderOptions) */
  originals: DeclaredOriginal[];
}

export type EventReading = { ok: true; row: EventRow } | { ok: false; reason: RejectReason; field: string | null };

/** A parsed body (JSON.parse's value) and its message to a row; too_large and not_json are the caller's. */
export type EventReader = (message: InboundMessage, parsed: unknown) => EventReading;

export interface ReaderOptions {
  /** keep the originals behind masks and sealed columns (the vault is on); default true */
  originals?: boolean;
}

type Record_ = Record<string, unknown>;

interface CompiledColumn {
  spec: ColumnSpec;
  /** what a rejection names: the dotted path, or the fact ($sent_date) */
  field: string;
  read: (record: Record_, message: InboundMessage) => unknown;
  /** a message fact: always present, its text as it comes */
  fact: boolean;
  /** a version column not pii: its text as it came follows as `<name>_raw` */
  keepRaw: boolean;
  /** the value's text (also its canonical text), or why not */
  check: (value: unknown) => string | Refusal;
  /** which characters are bad: none (a fact), a text's, a jsonb value's */
  charRule: number;
  /** the key of a one-step path that no object inherits, read in place; otherwise null */
  key: string | null;
  rejections: Map<RejectReason, EventReading>;
}

const CHARS_NONE = 0;
const CHARS_TEXT = 1;
const CHARS_JSON = 2;
const NO_ORIGINALS: DeclaredOriginal[] = Object.freeze([]) as unknown as DeclaredOriginal[];
const NOT_OBJECT: EventReading = Object.freeze({ ok: false, reason: 'not_object', field: null });

export function compileEventReader(spec: PipelineSpec, masker: Masker, options: ReaderOptions = {}): EventReader {
  const keepOriginals = options.originals ?? true;
  const columns: CompiledColumn[] = spec.columns.map(compileColumn);
  const required = columns.flatMap((column, i) => (column.spec.required ? [i] : []));
  const stored = storedColumnsOf(spec);
  const storesSubjectKey = stored.some((column) => column.role === 'subject_key');
  const width = stored.length;

  // The subject's text: a column's canonical text when a column reads its path, else the value at
  // the path when it is clean text or an integer. Its key: the login pipeline keeps userKey exactly.
  const subject = spec.subject;
  const subjectIndex = subject === null ? -1 : spec.columns.findIndex((column) => column.from.kind === 'path' && samePath(column.from.path, subject));
  const readSubject = subject === null || subjectIndex >= 0 ? null : pathReader(subject);
  const table = spec.table.name;
  const subjectField = subjectEntryField(table);
  const keyOf = spec.builtin ? (text: string) => masker.userKey(text) : (text: string) => masker.subjectKey(table, text);

  return (message, parsed) => {
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return NOT_OBJECT;
    const record = parsed as Record_;
    const raw: unknown[] = new Array(columns.length);
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i] as CompiledColumn;
      // A top-level key read in place: one call site per column kind keeps this as quick as the login reader.
      raw[i] = column.key !== null ? record[column.key] : column.read(record, message);
    }
    // Faults in a fixed order, as the login event has them: missing, then bad characters, then types.
    for (const i of required) {
      const column = columns[i] as CompiledColumn;
      const value = raw[i];
      if (value === undefined || (value === null && !column.spec.nullable)) return rejection(column, 'missing_field');
    }
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i] as CompiledColumn;
      const value = raw[i];
      if (column.charRule === CHARS_TEXT ? typeof value === 'string' && !isCleanText(value) : column.charRule === CHARS_JSON && hasBadChar(column.spec.type, value)) {
        return rejection(column, 'bad_char');
      }
    }
    const values: (string | null)[] = new Array<string | null>(width);
    const originals: DeclaredOriginal[] = keepOriginals ? [] : NO_ORIGINALS;
    let subjectText: string | null = null;
    let at = 0;
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i] as CompiledColumn;
      const value = raw[i];
      let text: string | null = null;
      if (column.fact) {
        text = value as string;
      } else if (value !== undefined && value !== null) {
        // The login event's types inline; the others through their compiled reader.
        const kind = column.spec.type.kind;
        if (kind === 'varchar' || kind === 'text') {
          if (typeof value !== 'string') return rejection(column, 'bad_type');
          if (kind === 'varchar' && isLongerThan(value, column.spec.type.length)) return rejection(column, 'too_long');
          text = value;
        } else {
          const read = column.check(value);
          if (typeof read !== 'string') return rejection(column, read.reason);
          text = read;
        }
      }
      const canonical = text;
      if (i === subjectIndex) subjectText = canonical;
      const pii = column.spec.pii;
      if (pii === 'mask' && canonical !== null) {
        text = masker.mask(column.spec.maskLabel, canonical);
        if (keepOriginals) originals.push({ mask: text, label: column.spec.maskLabel, value: canonical });
      } else if (pii === 'seal' && canonical !== null) {
        // The row names its value's entry; with the vault off there is none, and nothing to name.
        text = keepOriginals ? masker.sealRef(column.spec.maskLabel, message.messageId, canonical) : null;
        if (text !== null) originals.push({ mask: text, label: column.spec.maskLabel, value: canonical });
      }
      values[at++] = text;
      // A version's text as it came: present and a string, since it was read.
      if (column.keepRaw) values[at++] = text === null ? null : (value as string);
    }
    if (readSubject) subjectText = subjectTextOf(readSubject(record));
    const subjectKey = subjectText === null ? null : keyOf(subjectText);
    if (storesSubjectKey) {
      values[at] = subjectKey;
      // Only the key is in the table: the value goes to the vault (sql/0013), so rotate can re-key it.
      if (keepOriginals && subjectKey !== null && subjectText !== null) originals.push({ mask: subjectKey, label: subjectField, value: subjectText });
    }
    return { ok: true, row: { values, subjectKey, originals } };
  };
}

function compileColumn(spec: ColumnSpec): CompiledColumn {
  const from = spec.from;
  const type = spec.type;
  const base = {
    spec,
    keepRaw: type.kind === 'version' && spec.pii === 'none',
    rejections: new Map<RejectReason, EventReading>(),
    check: columnReaderOf(type),
    charRule: type.kind === 'jsonb' ? CHARS_JSON : CHARS_TEXT,
    key: null,
  };
  switch (from.kind) {
    case 'path':
      // A parsed body's prototype is Object.prototype: a key it does not have needs no own-key look.
      return {
        ...base,
        field: from.path.join('.'),
        read: pathReader(from.path),
        fact: false,
        key: from.path.length === 1 && !((from.path[0] as string) in Object.prototype) ? (from.path[0] as string) : null,
      };
    case 'sent_date':
      return { ...base, charRule: CHARS_NONE, field: '$sent_date', read: (_record, message) => sentDate(message.sentAtMs), fact: true };
    case 'sent_at':
      return { ...base, charRule: CHARS_NONE, field: '$sent_at', read: (_record, message) => sentAt(message.sentAtMs), fact: true };
    case 'message_id':
      return { ...base, charRule: CHARS_NONE, field: '$message_id', read: (_record, message) => message.messageId, fact: true };
  }
}

/** One rejection object per column and reason, made once: a refused message allocates nothing. */
function rejection(column: CompiledColumn, reason: RejectReason): EventReading {
  let found = column.rejections.get(reason);
  if (!found) column.rejections.set(reason, (found = Object.freeze({ ok: false, reason, field: column.field })));
  return found;
}

/**
 * The value at a path of own keys (never a prototype's: `constructor` is not a field of every
 * body), through objects only; undefined when any step is missing, null, an array or a scalar.
 */
function pathReader(path: readonly string[]): (record: Record_) => unknown {
  if (path.length === 1) {
    const key = path[0] as string;
    return (record) => (Object.hasOwn(record, key) ? record[key] : undefined);
  }
  return (record) => {
    let value: unknown = record;
    for (const part of path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
      value = (value as Record_)[part];
    }
    return value;
  };
}

/** A subject no column reads: clean text or a safe integer names someone; anything else, nobody. */
function subjectTextOf(value: unknown): string | null {
  if (typeof value === 'string') return isCleanText(value) ? value : null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return null;
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}
