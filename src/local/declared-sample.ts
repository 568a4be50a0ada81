// Events for a declared pipeline made from its declaration alone (demo --config without --input):
// each column's path gets a value its type takes, shaped by the path's last key (an email, a URL,
// an id), personal-looking values only from documentation addresses and example.com, and a few
// malformed bodies to show the quarantine. Pure and seeded: one declaration, one sample.
import type { ColumnSpec, ColumnType, PipelineSpec } from '../model/pipeline.js';
import { defaultMalformed, intBetween, mulberry32, pick, type Rng, type Sample } from './sample.js';

export interface DeclaredSampleOptions {
  /** well-formed events */
  count: number;
  /** malformed bodies mixed in (default: as the login sample's) */
  malformed?: number;
  /** PRNG seed (default 42) */
  seed?: number;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const NAMES = ['ann', 'bo', 'cruz', 'dee', 'eli', 'fay', 'gus', 'hana', 'ivo', 'jun'] as const;
const PAGES = ['', 'shoes', 'sale', 'cart', 'checkout', 'help', 'shoes/trail-runner', 'sale/socks'] as const;
const TAGS = ['home', 'sale', 'cart', 'product', 'category', 'help'] as const;
const DAY_MS = 86_400_000;
const START_MS = Date.UTC(2026, 11, 7, 9, 0, 0);

/** The RFC 5737 and RFC 3849 documentation addresses: no real person's. */
function documentationIp(rng: Rng): string {
  const form = intBetween(rng, 0, 3);
  if (form === 3) return `2001:db8::${intBetween(rng, 1, 0xffff).toString(16)}`;
  return `${['192.0.2', '198.51.100', '203.0.113'][form]!}.${intBetween(rng, 1, 254)}`;
}

/** A text that reads like the field it goes to: the path's last key says what, its parent whose. */
function textFor(path: readonly string[], rng: Rng, people: number): string {
  const key = path.at(-1)!.toLowerCase();
  const owner = (path.at(-2) ?? key).toLowerCase().replace(/[^a-z]/g, '') || 'x';
  if (key.includes('mail')) return `${pick(rng, NAMES)}.${intBetween(rng, 1, people)}@example.com`;
  if (/url|uri|href|link/.test(key)) return `https://shop.example.com/${pick(rng, PAGES)}`;
  if (/(^|_)ip($|_)|addr/.test(key)) return documentationIp(rng);
  if (key.includes('phone')) return `+1-202-555-01${String(intBetween(rng, 0, 99)).padStart(2, '0')}`;
  if (key.includes('name')) return pick(rng, NAMES);
  if (key === 'id' || key.endsWith('_id') || key.endsWith('-id')) return `${owner[0]}-${1000 + intBetween(rng, 1, people)}`;
  return `${key.replace(/[^a-z0-9]/g, '') || 'value'}-${intBetween(rng, 1, 99)}`;
}

/** A value `type` takes, for the field at `path`; the n-th event's, so times advance. */
function valueFor(type: ColumnType, path: readonly string[], rng: Rng, n: number, people: number): Json {
  const key = path.at(-1)!.toLowerCase();
  switch (type.kind) {
    case 'text':
      return textFor(path, rng, people);
    case 'varchar':
      return textFor(path, rng, people).slice(0, type.length);
    case 'ip':
      return documentationIp(rng);
    case 'version':
      return `${intBetween(rng, 1, 9)}.${intBetween(rng, 0, 20)}.${intBetween(rng, 0, 9)}`;
    case 'integer':
      return /ms|duration|time/.test(key) ? intBetween(rng, 100, 30_000) : intBetween(rng, 0, 1000);
    case 'bigint':
      return intBetween(rng, 1, 2 ** 40);
    case 'numeric':
      return intBetween(rng, 100, 99_999) / 100;
    case 'boolean':
      return rng() < 0.5;
    case 'date':
      return new Date(START_MS - intBetween(rng, 0, 30) * DAY_MS).toISOString().slice(0, 10);
    case 'timestamptz':
      return new Date(START_MS + n * 7_000 + intBetween(rng, 0, 6_999)).toISOString().replace('.000Z', 'Z');
    case 'jsonb':
      return rng() < 0.5 ? [pick(rng, TAGS)] : [pick(rng, TAGS), pick(rng, TAGS)];
  }
}

/**
 * Sets `value` at `path`, making the objects on the way; a path through a value already set (a
 * column whose path is inside another's) is left out. Objects without a prototype, so that a key
 * such as `__proto__` is a key like any other.
 */
function setAt(event: JsonObject, path: readonly string[], value: Json): void {
  let at = event;
  for (const part of path.slice(0, -1)) {
    const next = Object.hasOwn(at, part) ? at[part] : (at[part] = Object.create(null) as JsonObject);
    if (typeof next !== 'object' || next === null || Array.isArray(next)) return;
    at = next;
  }
  const last = path.at(-1)!;
  if (!Object.hasOwn(at, last)) at[last] = value;
}

function deleteAt(event: JsonObject, path: readonly string[]): void {
  let at: Json | undefined = event;
  for (const part of path.slice(0, -1)) {
    at = typeof at === 'object' && at !== null && !Array.isArray(at) ? at[part] : undefined;
  }
  if (typeof at === 'object' && at !== null && !Array.isArray(at)) delete at[path.at(-1)!];
}

type PathColumn = ColumnSpec & { from: { kind: 'path'; path: readonly string[] } };
const isPathColumn = (column: ColumnSpec): column is PathColumn => column.from.kind === 'path';

function makeEvent(spec: PipelineSpec, rng: Rng, n: number, people: number): JsonObject {
  const event = Object.create(null) as JsonObject;
  // Deepest paths first: a shorter path that holds a deeper one's object is then left to it.
  const columns = spec.columns.filter(isPathColumn).sort((a, b) => b.from.path.length - a.from.path.length);
  for (const column of columns) {
    // Now and then an optional field is absent and a nullable one null, as real events have them.
    if (!column.required && rng() < 0.15) continue;
    setAt(event, column.from.path, column.nullable && rng() < 0.2 ? null : valueFor(column.type, column.from.path, rng, n, people));
  }
  // A subject no column reads still names somebody.
  const subject = spec.subject;
  if (subject !== null && !columns.some((column) => column.from.path.join('.') === subject.join('.'))) setAt(event, subject, textFor(subject, rng, people));
  return event;
}

/** A value of the wrong kind for `type`: each is refused by its reader. */
function wrongValue(type: ColumnType): Json {
  switch (type.kind) {
    case 'text':
    case 'varchar':
      return 42;
    case 'ip':
      return '198.51.100.300';
    case 'version':
      return 'v1-beta';
    case 'boolean':
      return 'yes';
    case 'date':
      return '2026-02-30';
    case 'timestamptz':
      return 'yesterday';
    default:
      return 'many';
  }
}

/**
 * Malformed bodies, one of each kind in turn: a required field missing, a value of the wrong kind,
 * a body that is not JSON. A kind the declaration gives no way to (no required field) is skipped.
 */
function malformedBody(spec: PipelineSpec, base: JsonObject, k: number): string {
  const required = spec.columns.filter(isPathColumn).find((column) => column.required);
  const typed = spec.columns.filter(isPathColumn).find((column) => column.type.kind !== 'jsonb');
  const kinds = [
    ...(required ? [() => (deleteAt(base, required.from.path), JSON.stringify(base))] : []),
    ...(typed ? [() => (deleteAt(base, typed.from.path), setAt(base, typed.from.path, wrongValue(typed.type)), JSON.stringify(base))] : []),
    () => 'not json at all',
  ];
  return kinds[k % kinds.length]!();
}

export function generateDeclaredSample(spec: PipelineSpec, options: DeclaredSampleOptions): Sample {
  const { count } = options;
  const malformed = options.malformed ?? defaultMalformed(count);
  for (const [name, value] of [['count', count], ['malformed', malformed]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  const rng = mulberry32(options.seed ?? 42);
  // Fewer people than events: a person views several pages, so masks and subjects recur.
  const people = Math.max(1, Math.round(count / 3));
  const total = count + malformed;
  const badAt = new Set(Array.from({ length: malformed }, (_, k) => Math.floor(((k + 0.5) * total) / malformed)));
  const bodies: string[] = [];
  let bad = 0;
  for (let i = 0; i < total; i++) {
    const event = makeEvent(spec, rng, i, people);
    bodies.push(badAt.has(i) ? malformedBody(spec, event, bad++) : JSON.stringify(event));
  }
  return { bodies, valid: count, malformed };
}
