// What a declared pipeline's quarantine record may say of a refused body (readable-values.ts does
// it for logins): the masks of its `pii: mask` fields and its subject's key, read best effort, and
// the key names its shape may show. Compiled once per spec; pure.
import { isCleanText } from './login-event.js';
import { columnReaderOf } from './column-value.js';
import { ENVELOPE_FIELD_NAMES } from './envelope.js';
import type { Masker } from './mask.js';
import type { MaskLabel } from '../model/message.js';
import type { ColumnSpec, PipelineSpec } from '../model/pipeline.js';

/** At most this many masks per label, and nodes walked, as readable-values.ts bounds the login body. */
const MAX_VALUES = 16;
const MAX_NODES = 100_000;
/** A quoted value in text that is not JSON, as readable-values.ts reads one. */
const QUOTED_VALUE = String.raw`("(?:[^"\\\n]|\\.){0,512}"|'(?:[^'\\\n]|\\.){0,512}')`;

export interface DeclaredValues {
  /** the canonical texts to mask, by label, in the order found; only labels with at least one */
  values: Map<MaskLabel, string[]>;
  /** the subject's text, as the event reader would key it; null: none could be read */
  subject: string | null;
}

/** One masked field, as a refused body is searched for it. */
interface MaskedField {
  label: MaskLabel;
  /** its path's last key, lower case: found under that key at any depth, as a login's ip is */
  key: string;
  path: readonly string[];
  /** the canonical text the row's mask would be made of, or the value as it came when its type refuses it */
  canonical: (value: unknown) => string | null;
  /** a jsonb column's value is one value, masked whole; any other column's arrays hold values */
  whole: boolean;
}

export interface DeclaredFacts {
  /**
   * The key names a shape may show: the segments of the declared paths (columns' and subject's).
   * They are the file's text, not a sender's, so showing one shows nothing of a body; and they are
   * shown wherever they occur, so an operator sees a declared field where it was not expected.
   */
  shownKeys: ReadonlySet<string>;
  /** the same, and the names AWS gives an envelope's fields */
  shownInEnvelopes: ReadonlySet<string>;
  /** from the parsed event (or, in an envelope, `event` for the paths and `whole` for the any-depth search) */
  readJson(event: unknown, whole?: unknown): DeclaredValues;
  /** from text that is not JSON: only `"key": "value"` pairs under a declared field's last key */
  readText(text: string, into?: DeclaredValues): DeclaredValues;
  /** the subject's key, as the event reader makes it (Masker.subjectKey under the table's name) */
  keyOf(masker: Masker, subject: string): string;
}

const compiled = new WeakMap<PipelineSpec, DeclaredFacts>();

/** The facts reader of a declared spec (made once per spec object). */
export function declaredFactsOf(spec: PipelineSpec): DeclaredFacts {
  let found = compiled.get(spec);
  if (!found) compiled.set(spec, (found = compile(spec)));
  return found;
}

function compile(spec: PipelineSpec): DeclaredFacts {
  const shownKeys = new Set<string>(spec.subject ?? []);
  for (const column of spec.columns) if (column.from.kind === 'path') for (const key of column.from.path) shownKeys.add(key);

  // Only `mask` fields: a `seal` field's table column holds nothing to match, and a mask in its
  // record would make equal values linkable where the declaration asked that nothing be.
  const masked: MaskedField[] = spec.columns.flatMap((column) =>
    column.pii === 'mask' && column.from.kind === 'path' ? [maskedField(column, column.from.path)] : [],
  );
  const byKey = new Map<string, MaskedField[]>();
  for (const field of masked) byKey.set(field.key, [...(byKey.get(field.key) ?? []), field]);

  // The subject's text as the event reader makes it: through the column that reads its path, if any.
  const subject = spec.subject;
  const subjectColumn = subject === null ? undefined : spec.columns.find((column) => column.from.kind === 'path' && samePath(column.from.path, subject));
  const readColumn = subjectColumn ? columnReaderOf(subjectColumn.type) : undefined;
  const subjectText = (value: unknown): string | null => {
    if (readColumn) {
      const read = readColumn(value);
      if (typeof read === 'string') return isCleanText(read) ? read : null;
    }
    return subjectTextOf(value);
  };
  const subjectKey = subject === null ? undefined : subject[subject.length - 1]!.toLowerCase();

  const textNames = [...new Set([...byKey.keys(), ...(subjectKey === undefined ? [] : [subjectKey])])];
  const keyedString = textNames.length === 0 ? null : new RegExp(`(["'])(${textNames.map(escapeRegExp).join('|')})\\1\\s*:\\s*${QUOTED_VALUE}`, 'gi');
  const table = spec.table.name;

  const add = (found: DeclaredValues, field: MaskedField, value: unknown) => {
    const text = field.canonical(value);
    if (text === null) return;
    let list = found.values.get(field.label);
    if (!list) found.values.set(field.label, (list = []));
    if (list.length < MAX_VALUES && !list.includes(text)) list.push(text);
  };

  return {
    shownKeys,
    shownInEnvelopes: new Set([...shownKeys, ...ENVELOPE_FIELD_NAMES]),
    keyOf: (masker, text) => masker.subjectKey(table, text),
    readJson(event, whole = event) {
      const found: DeclaredValues = { values: new Map(), subject: null };
      if (subject !== null) {
        const value = valueAt(event, subject);
        if (value !== undefined) found.subject = subjectText(value);
      }
      // Each field at its declared path first, so its row's mask is the first one listed.
      for (const field of masked) {
        const value = valueAt(event, field.path);
        if (value !== undefined && value !== null) collect(found, field, value);
      }
      if (byKey.size === 0) return found;
      // Then under the field's key anywhere, a value or an array of them: a field out of place is still the person's.
      // Iterative and bounded (see readable-values.ts): a body's depth or width costs no stack.
      const stack: { value: unknown; fields: MaskedField[] | null }[] = [{ value: whole, fields: null }];
      let queued = 1;
      while (stack.length > 0) {
        const node = stack.pop()!;
        if (node.fields !== null && !Array.isArray(node.value) && !isRecord(node.value)) {
          for (const field of node.fields) if (node.value !== null) add(found, field, node.value);
        } else if (Array.isArray(node.value)) {
          for (const item of node.value) {
            if (queued++ >= MAX_NODES) break;
            stack.push({ value: item, fields: node.fields });
          }
        } else if (isRecord(node.value)) {
          for (const key in node.value) {
            if (queued++ >= MAX_NODES) break;
            const item = node.value[key];
            let fields = node.fields ?? byKey.get(key.toLowerCase()) ?? null;
            // A jsonb field's object is one value: its mask is the canonical JSON's, as the row's is,
            // and what it holds is not that field's.
            if (fields !== null && (isRecord(item) || Array.isArray(item)) && fields.some((field) => field.whole)) {
              for (const field of fields) if (field.whole) add(found, field, item);
              fields = fields.filter((field) => !field.whole);
              if (fields.length === 0) fields = null;
            }
            stack.push({ value: item, fields });
          }
        }
      }
      return found;
    },
    readText(text, into = { values: new Map(), subject: null }) {
      if (keyedString === null) return into;
      for (const match of text.matchAll(keyedString)) {
        const value = unquote(match[3] ?? '');
        if (value === null) continue;
        const key = (match[2] ?? '').toLowerCase();
        for (const field of byKey.get(key) ?? []) add(into, field, value);
        if (key === subjectKey) into.subject ??= subjectText(value);
      }
      return into;
    },
  };

  function collect(found: DeclaredValues, field: MaskedField, value: unknown): void {
    if (field.whole || !Array.isArray(value)) {
      add(found, field, value);
      return;
    }
    for (const item of value.slice(0, MAX_VALUES)) if (item !== null && !isRecord(item) && !Array.isArray(item)) add(found, field, item);
  }
}

function maskedField(column: ColumnSpec, path: readonly string[]): MaskedField {
  const read = columnReaderOf(column.type);
  const whole = column.type.kind === 'jsonb';
  return {
    label: column.maskLabel,
    key: path[path.length - 1]!.toLowerCase(),
    path,
    whole,
    // The row's canonical text when the type takes the value; else the value as it came (an ip
    // canonical when it is one), so the officer who knows it can still find its record.
    canonical: (value) => {
      const text = read(value);
      if (typeof text === 'string') return text;
      return whole ? null : plainText(value);
    },
  };
}

/** The value at a path of own keys, through objects only; undefined when a step is missing. */
function valueAt(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (const part of path) {
    if (!isRecord(value) || !Object.hasOwn(value, part)) return undefined;
    value = value[part];
  }
  return value;
}

/** A subject no column takes, as the event reader keys one: clean text or a safe integer. */
function subjectTextOf(value: unknown): string | null {
  if (typeof value === 'string') return isCleanText(value) ? value : null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return null;
}

/** A scalar as text a person could have written: a string, a finite number; anything else is no value to match. */
function plainText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function unquote(literal: string): string | null {
  const json = literal.startsWith("'") ? `"${literal.slice(1, -1).replaceAll('\\\'', "'").replaceAll('"', '\\"')}"` : literal;
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === 'string' ? value : null;
  } catch {
    return null;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
