// The values of user_id, ip and device_id that can be read from a refused body, so its quarantine
// record can hold their masks (and the user's key) instead of the values. Reading is best effort:
// what cannot be read is simply not masked, and never stored, because nothing of the body is.

/** At most this many values per field: a body listing a thousand addresses gets the first few masked. */
const MAX_VALUES = 16;
const MAX_NODES = 100_000;
// Text that is not JSON: a key in double or single quotes, a colon, a quoted string (JSON escapes).
const KEYED_STRING = /(["'])(user_id|ip|device_id)\1\s*:\s*("(?:[^"\\\n]|\\.){0,512}"|'(?:[^'\\\n]|\\.){0,512}')/gi;

export interface ReadableValues {
  userId: string | null;
  ip: string[];
  deviceId: string[];
}

/** From a parsed JSON value: user_id at the top; ip and device_id at any depth, strings in arrays too. */
export function readJsonValues(value: unknown): ReadableValues {
  const found: ReadableValues = { userId: null, ip: [], deviceId: [] };
  if (isRecord(value) && typeof value.user_id === 'string') found.userId = value.user_id;
  // Iterative: a body nested deeper than the stack costs nothing more than a flat one.
  // Nodes are counted as they are queued, not as they are read: a body of a million small items
  // (a 1 MiB array of zeros) must not queue a million entries before the bound is checked.
  const stack: { value: unknown; field: 'ip' | 'deviceId' | null }[] = [{ value, field: null }];
  let queued = 1;
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.field !== null && (typeof node.value === 'string' || typeof node.value === 'number')) {
      add(found[node.field], String(node.value));
    } else if (Array.isArray(node.value)) {
      for (const item of node.value) {
        if (queued++ >= MAX_NODES) break;
        stack.push({ value: item, field: node.field });
      }
    } else if (isRecord(node.value)) {
      for (const key in node.value) {
        if (queued++ >= MAX_NODES) break;
        stack.push({ value: node.value[key], field: node.field ?? fieldOf(key) });
      }
    }
  }
  return found;
}

/** From text that is not JSON (truncated, Python-like): only `"key": "value"` pairs are read. */
export function readTextValues(text: string): ReadableValues {
  const found: ReadableValues = { userId: null, ip: [], deviceId: [] };
  for (const match of text.matchAll(KEYED_STRING)) {
    const value = unquote(match[3] ?? '');
    if (value === null) continue;
    const field = fieldOf(match[2] ?? '');
    if (field !== null) add(found[field], value);
    else found.userId ??= value;
  }
  return found;
}

function fieldOf(key: string): 'ip' | 'deviceId' | null {
  const lower = key.toLowerCase();
  return lower === 'ip' ? 'ip' : lower === 'device_id' ? 'deviceId' : null;
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

function add(values: string[], value: string): void {
  if (values.length < MAX_VALUES && !values.includes(value)) values.push(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
