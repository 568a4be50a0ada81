// What a quarantined body looked like, without any of its text: for JSON, its paths with each
// value's type and length; for anything else, its length and the classes of characters it holds.
// The result is ASCII JSON text, so any database encoding (LATIN1, SQL_ASCII) can store it.

/** Nodes described at most: a shape is for a person to read, not a copy of the body. */
const MAX_ENTRIES = 64;
const MAX_DEPTH = 4;

export type JsonType = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

export interface ShapeEntry {
  /** dot-separated keys, `[i]` for array items; a key not among the shown keys is `<n chars>` */
  path: string;
  type: JsonType;
  /** characters of a string or number, items of an array, keys of an object */
  length: number;
}

export type BodyShape =
  | { json: true; entries: ShapeEntry[]; truncated: boolean }
  | { json: false; chars: number; classes: string[] };

/**
 * The shape of a parsed JSON value. Only keys in `shownKeys` (the names of the fields a valid body
 * has) appear as they are; every other key is `<n chars>`. A key is text a sender chose, and may be
 * the very id a value should have held: a duplicate key (JSON.parse keeps the last value, so the
 * real id is only a key elsewhere), or any key that looks harmless. No rule about which keys look
 * like data can be complete; a list of the keys that are known not to be is.
 */
export function jsonShape(value: unknown, shownKeys: ReadonlySet<string>): BodyShape {
  const entries: ShapeEntry[] = [];
  let truncated = false;
  // Breadth first and iterative: a body nested a million deep costs no stack and a bounded walk.
  const queue: { path: string; value: unknown; depth: number }[] = [{ path: '', value, depth: 0 }];
  for (let at = 0; at < queue.length; at++) {
    const node = queue[at]!;
    if (entries.length >= MAX_ENTRIES) {
      truncated = true;
      break;
    }
    const type = jsonType(node.value);
    entries.push({ path: node.path || '$', type, length: lengthOf(node.value, type) });
    if (type !== 'array' && type !== 'object') continue;
    if (node.depth >= MAX_DEPTH) {
      truncated ||= entries[entries.length - 1]!.length > 0;
      continue;
    }
    if (type === 'array') {
      const items = node.value as unknown[];
      for (let i = 0; i < items.length; i++) {
        if (queue.length >= MAX_ENTRIES) {
          truncated = true;
          break;
        }
        queue.push({ path: `${node.path}[${i}]`, value: items[i], depth: node.depth + 1 });
      }
    } else {
      for (const key in node.value as Record<string, unknown>) {
        if (queue.length >= MAX_ENTRIES) {
          truncated = true;
          break;
        }
        const shown = shownKeys.has(key) ? key : `<${key.length} chars>`;
        queue.push({ path: node.path ? `${node.path}.${shown}` : shown, value: (node.value as Record<string, unknown>)[key], depth: node.depth + 1 });
      }
    }
  }
  return { json: true, entries, truncated };
}

const CLASS_NAMES = ['digit', 'lower', 'upper', 'space', 'punct', 'control', 'non_ascii'] as const;
const ALL_CLASSES = (1 << CLASS_NAMES.length) - 1;

/**
 * The shape of text that is not JSON (or too large to parse): its length and the classes of
 * characters it holds. One pass over the char codes, stopping once every class has been seen.
 */
export function textShape(text: string): BodyShape {
  let seen = 0;
  for (let i = 0; i < text.length && seen !== ALL_CLASSES; i++) seen |= 1 << classOf(text.charCodeAt(i));
  const found: string[] = CLASS_NAMES.filter((_, bit) => (seen & (1 << bit)) !== 0);
  if (!text.isWellFormed()) found.push('lone_surrogate');
  return { json: false, chars: text.length, classes: found };
}

function classOf(code: number): number {
  if (code >= 48 && code <= 57) return 0;
  if (code >= 97 && code <= 122) return 1;
  if (code >= 65 && code <= 90) return 2;
  if (code === 32 || code === 9 || code === 10 || code === 13) return 3;
  if (code > 32 && code < 127) return 4;
  if (code < 32 || code === 127) return 5;
  return 6;
}

/** ASCII-only JSON text of a shape (non-ASCII can only come from nowhere, but escape it anyway). */
export function shapeText(shape: BodyShape): string {
  return JSON.stringify(shape).replace(/[^\u0020-\u007e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function jsonType(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean' || type === 'object' ? type : 'null';
}

function lengthOf(value: unknown, type: JsonType): number {
  switch (type) {
    case 'string':
      return (value as string).length;
    case 'number':
    case 'boolean':
      return String(value).length;
    case 'array':
      return (value as unknown[]).length;
    case 'object': {
      let count = 0;
      for (const key in value as Record<string, unknown>) if (key !== undefined) count++;
      return count;
    }
    default:
      return 0;
  }
}
