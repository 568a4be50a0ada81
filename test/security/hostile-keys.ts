// Hostile bodies that plant a secret (a device id, an ip, any text a sender chose) as a KEY, in every
// place a quarantine shape has missed one: a duplicate key (JSON.parse keeps the last value, so the
// real id is only a key elsewhere), deep, past the 16th item of an array, written with escapes, in
// text that is not JSON. Shared by the pure property test and the one against a real database.
import fc from 'fast-check';

/**
 * Every character a shape's text may hold: lower-case names, digits, `<n chars>`, `[i]`, JSON
 * punctuation. A secret holding any other character can be in a shape only if it leaked.
 */
export const SHAPE_ALPHABET = /^[a-z0-9_$[\].<> {}":,]*$/;

/** The only keys a shape may show: the login event's own field names. */
export const FIELD_NAMES = ['user_id', 'app_version', 'device_type', 'ip', 'locale', 'device_id'] as const;

/** `$`, or keys joined by dots with `[i]` after any of them (or at the start, for a top-level array). */
function shapePath(names: readonly string[]): RegExp {
  const segment = `(?:${names.join('|')}|<\\d+ chars>)`;
  return new RegExp(`^(?:\\$|(?:\\[\\d+\\]|${segment})(?:\\[\\d+\\]|\\.${segment})*)$`);
}
export const SHAPE_PATH = shapePath(FIELD_NAMES);

const JSON_TYPES = new Set(['object', 'array', 'string', 'number', 'boolean', 'null']);
const TEXT_CLASSES = new Set(['digit', 'lower', 'upper', 'space', 'punct', 'control', 'non_ascii', 'lone_surrogate']);

/**
 * Why a stored shape holds text of the body (a key that is not a field name, any value), or
 * undefined when it holds none: its form, checked field by field, rather than a search for one string.
 * `names`: the keys it may show (a declared pipeline's path segments, lower-case names); the login event's by default.
 */
export function bodyTextInShape(shapeText: string, names: readonly string[] = FIELD_NAMES): string | undefined {
  const pathForm = names === FIELD_NAMES ? SHAPE_PATH : shapePath(names);
  if (!SHAPE_ALPHABET.test(shapeText)) return `a character outside the shape alphabet: ${shapeText.slice(0, 200)}`;
  const shape = JSON.parse(shapeText) as Record<string, unknown>;
  if (shape.json === false) {
    const keys = Object.keys(shape).sort().join(',');
    if (keys !== 'chars,classes,json') return `text shape with keys ${keys}`;
    if (!Number.isInteger(shape.chars)) return 'chars is not a count';
    const classes = shape.classes as unknown[];
    const stray = classes.find((name) => typeof name !== 'string' || !TEXT_CLASSES.has(name));
    return stray === undefined ? undefined : `class ${JSON.stringify(stray)}`;
  }
  if (Object.keys(shape).sort().join(',') !== 'entries,json,truncated') return `JSON shape with keys ${Object.keys(shape).join(',')}`;
  for (const entry of shape.entries as Record<string, unknown>[]) {
    if (Object.keys(entry).sort().join(',') !== 'length,path,type') return `entry with keys ${Object.keys(entry).join(',')}`;
    if (typeof entry.path !== 'string' || !pathForm.test(entry.path)) return `path ${String(entry.path)}`;
    if (typeof entry.type !== 'string' || !JSON_TYPES.has(entry.type)) return `type ${String(entry.type)}`;
    if (!Number.isInteger(entry.length)) return `length ${String(entry.length)}`;
  }
  return undefined;
}

// A character no shape, mask, hash, message id or timestamp holds, so finding the secret anywhere in a
// stored record can only mean it leaked.
const tell = fc.constantFrom('Q', 'Z', 'W', '@', '#', '!', '~', '=', '/', 'é', 'ß', '\u2028', '🔑', "'", '\\');

/** What a sender may put where a key goes: device ids, addresses, identifier-like words, any text. */
export const secret: fc.Arbitrary<string> = fc.oneof(
  fc.uuid().map((id) => id.toUpperCase()),
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{7,39}$/).filter((s) => /[A-Z]/.test(s)),
  fc.ipV4().filter((ip) => ip.length >= 9),
  fc.ipV6().filter((ip) => ip.length >= 9 && /[0-9a-f]:/.test(ip)),
  fc.tuple(fc.string({ maxLength: 12 }), tell, fc.string({ maxLength: 12 })).map(([a, t, b]) => `${a}${t}${b}`).filter((s) => s.length >= 8),
);

const escaped = (s: string) => `"${[...s].map((c) => [...c].map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')).join('')}"`;

export type Placement = 'duplicate' | 'deep' | 'array17' | 'escaped' | 'notJson' | 'beside' | 'inArrays' | 'valueToo' | 'manyKeys';

/** A body that holds `s` as a key (and sometimes as a value too), and is not a valid login event. */
export const hostileBody: fc.Arbitrary<{ body: string; secret: string; placement: Placement }> = fc
  .tuple(
    secret,
    fc.constantFrom<Placement>('duplicate', 'deep', 'array17', 'escaped', 'notJson', 'beside', 'inArrays', 'valueToo', 'manyKeys'),
    fc.nat(8),
    fc.nat(30),
    fc.json({ maxDepth: 2 }),
  )
  .map(([s, placement, depth, extra, json]) => {
    const k = JSON.stringify(s);
    const fillers = Array.from({ length: 16 + extra }, (_, i) => JSON.stringify(`filler-${i}`)).join(',');
    const bodies: Record<Placement, string> = {
      // JSON.parse keeps the second device_id: the first, the real one, survives only as a key.
      duplicate: `{"user_id":"u-1","device_id":${k},${k}:1,"device_id":"phone-2","ip":"203.0.113.5"}`,
      deep: `${'{"a":'.repeat(depth)}{${k}:${json},"ip":${k}}${'}'.repeat(depth)}`,
      array17: `{"device_id":[${k},${fillers},${k}],${k}:true,"list":[${fillers},{${k}:1}]}`,
      escaped: `{${escaped(s)}:1,"ip":${escaped(s)},"device_id":{${escaped(s)}:[]}}`,
      notJson: [`{${k}: 1`, `{'${s}': 'x', 'ip': '${s}'}`, `ip=${s} ${k}=${s}`][depth % 3]!,
      beside: `{"user_id":"u-2","app_version":"1.0","device_type":"ios","ip":"not an ip","locale":null,"device_id":"d-9",${k}:${json}}`,
      inArrays: `[{"x":[{${k}:null}]},${'['.repeat(depth)}{${k}:0}${']'.repeat(depth)}]`,
      valueToo: `{"device_id":${k},${k}:${k}}`,
      manyKeys: `{${Array.from({ length: 20 + extra }, (_, i) => `"k${i}":${i}`).join(',')},${k}:1}`,
    };
    return { body: bodies[placement], secret: s, placement };
  });
