// The bodies of fault scenario 6: hand-written malformed login events, each with the outcome the
// quarantine table promises (docs/how-it-works.md), and bodies generated with fast-check whose outcome is decided
// by an oracle written here from that table, independent of src/transform.
import fc from 'fast-check';
import { generateSample } from '../../src/local/sample.js';

export const REASONS = [
  'not_json',
  'not_object',
  'missing_field',
  'bad_type',
  'too_long',
  'bad_char',
  'bad_ip',
  'bad_app_version',
  'too_large',
  'db_rejected',
] as const;
export type Reason = (typeof REASONS)[number];

/** SQS's own limit: body plus attributes, in UTF-8 bytes (fauxqs MaximumMessageSize default). */
export const SQS_MAX_BODY_BYTES = 1_048_576;

export interface BadInputCase {
  kind: string;
  body: string;
  /** 'loaded', or every reason the documentation allows for this body */
  expect: 'loaded' | readonly Reason[];
  /** a bug in src/ this body once reproduced (see the scenario's regression tests) */
  regression?: string;
}

// ---------------------------------------------------------------------------------------------
// The oracle: the reason codes table of docs/how-it-works.md, rule by rule. Lengths count characters (code points), as
// the varchar columns do; "control character" is read as C0 and DEL (U+0000-U+001F, U+007F).

const FIELDS = ['user_id', 'device_type', 'ip', 'device_id', 'app_version', 'locale'] as const;
const MAX_CHARS: Record<(typeof FIELDS)[number], number> = {
  user_id: 128,
  device_type: 32,
  // ip and app_version are limited by their format; their too_long limits are schema details.
  ip: 64,
  device_id: 256,
  app_version: 32,
  locale: 32,
};

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

export function isIPv4Text(text: string): boolean {
  return IPV4.test(text);
}

/** RFC 4291 section 2.2 text forms, with an optional trailing dotted IPv4; no zone id. */
export function isIPv6Text(text: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(':')) return false;
  let head = text;
  let tailGroups = 0;
  if (text.includes('.')) {
    const lastColon = text.lastIndexOf(':');
    if (!isIPv4Text(text.slice(lastColon + 1))) return false;
    head = text.slice(0, lastColon + 1);
    head = head.endsWith('::') ? head : head.slice(0, -1);
    tailGroups = 2;
  }
  const halves = head.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  if (halves.length > 2) return false;
  if (halves.length === 2) {
    const [left, right] = [groups(halves[0] ?? ''), groups(halves[1] ?? '')];
    return [...left, ...right].every((g) => HEX_GROUP.test(g)) && left.length + right.length + tailGroups <= 7;
  }
  const all = groups(head);
  return all.every((g) => HEX_GROUP.test(g)) && all.length + tailGroups === 8;
}

function hasBadChar(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const unit = text.charCodeAt(i);
    if (unit <= 0x1f || unit === 0x7f) return true;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      i += 1;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return true;
    }
  }
  return false;
}

/** Nested deeper than 64, or more than 10,000 objects and arrays, brackets in strings aside (docs/how-it-works.md). */
function costlyToParse(body: string): boolean {
  const outsideStrings = body.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  let depth = 0;
  let deepest = 0;
  let containers = 0;
  for (const char of outsideStrings) {
    if (char === '[' || char === '{') {
      containers += 1;
      deepest = Math.max(deepest, ++depth);
    } else if (char === ']' || char === '}') depth -= 1;
  }
  return deepest > 64 || containers > 10_000;
}

/** Every reason the documentation gives for refusing this body; empty: it must load. */
export function violations(body: string): Set<Reason> {
  const found = new Set<Reason>();
  // Over the limit (--max-body-bytes: by default the queue's MaximumMessageSize, 1 MiB on the suite's
  // queues) a body is never parsed: that is its only reason, whatever else it holds.
  if (Buffer.byteLength(body) > SQS_MAX_BODY_BYTES) return new Set(['too_large']);
  // Over 64 KiB, nesting or containers enough to make parsing costly are refused the same way.
  if (Buffer.byteLength(body) > 64 * 1024 && costlyToParse(body)) return new Set(['too_large']);
  let value: unknown;
  try {
    value = JSON.parse(body.startsWith('\uFEFF') ? body.slice(1) : body);
  } catch {
    return new Set(['not_json']);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return new Set(['not_object']);
  const record = value as Record<string, unknown>;
  for (const field of FIELDS) {
    const item = Object.hasOwn(record, field) ? record[field] : undefined;
    if (item === undefined || (item === null && field !== 'locale')) {
      found.add('missing_field');
      continue;
    }
    if (item === null) continue;
    if (typeof item !== 'string') {
      found.add('bad_type');
      continue;
    }
    if (hasBadChar(item)) found.add('bad_char');
    if ([...item].length > MAX_CHARS[field]) found.add('too_long');
    if (field === 'ip' && !isIPv4Text(item) && !isIPv6Text(item)) found.add('bad_ip');
    if (field === 'app_version' && !/^[0-9]{1,3}(?:\.[0-9]{1,3}){0,2}$/.test(item)) found.add('bad_app_version');
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// What SQS will carry. Only #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF may appear in
// a body; fauxqs also refuses the last range (its check works on UTF-16 code units). A character
// outside that set is sent JSON-escaped instead, which inside a JSON string means the same text.

/** Whether real SQS would refuse the body: a character outside its set, a lone surrogate included. */
export function sqsRefuses(body: string): boolean {
  for (let i = 0; i < body.length; i += 1) {
    const unit = body.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < body.length) {
      const next = body.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 1;
        continue;
      }
    }
    const allowed = unit === 0x9 || unit === 0xa || unit === 0xd || (unit >= 0x20 && unit <= 0xd7ff) || (unit >= 0xe000 && unit <= 0xfffd);
    if (!allowed) return true;
  }
  return false;
}

/** The body with every character SQS (or fauxqs) refuses written as a \uXXXX escape. */
export function sqsSafe(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i += 1) {
    const unit = body.charCodeAt(i);
    const allowed = unit === 0x9 || unit === 0xa || unit === 0xd || (unit >= 0x20 && unit <= 0xd7ff) || (unit >= 0xe000 && unit <= 0xfffd);
    out += allowed ? body[i] : `\\u${unit.toString(16).padStart(4, '0')}`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hand-written bodies. Every case gets its own ip and device_id so that a leak can be traced to it.

let serial = 0;
/** A valid event with its own user_id, ip and device_id, with fields replaced or added. */
function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  serial += 1;
  return {
    user_id: `user-${String(serial).padStart(4, '0')}`,
    app_version: '2.3.0',
    device_type: 'android',
    ip: `198.51.100.${serial}`,
    locale: 'RU',
    device_id: `${100 + serial}-${String(serial % 100).padStart(2, '0')}-${1000 + serial}`,
    ...overrides,
  };
}
const json = (value: unknown) => JSON.stringify(value);
const without = (field: string) => {
  const value = event();
  delete value[field];
  return json(value);
};
const nested = (open: string, close: string, inner: string, depth: number) => open.repeat(depth) + inner + close.repeat(depth);
/** A valid event whose `field` is filled with `fill` until the body is exactly `bytes` UTF-8 bytes. */
function sizedTo(bytes: number, field: string, fill: string): string {
  const value = event({ [field]: '' });
  const room = bytes - Buffer.byteLength(json(value));
  const unit = Buffer.byteLength(fill);
  value[field] = fill.repeat(Math.floor(room / unit)) + 'x'.repeat(room % unit);
  return json(value);
}

const NOT_JSON = ['not_json'] as const;
const NOT_OBJECT = ['not_object'] as const;
const MISSING = ['missing_field'] as const;
const BAD_TYPE = ['bad_type'] as const;
const TOO_LONG = ['too_long'] as const;
const BAD_CHAR = ['bad_char'] as const;
const BAD_IP = ['bad_ip'] as const;
const BAD_VERSION = ['bad_app_version'] as const;

export function handWrittenCases(): BadInputCase[] {
  serial = 0;
  const cases: BadInputCase[] = [];
  const add = (kind: string, body: string, expect: BadInputCase['expect'], regression?: string) =>
    cases.push({ kind, body, expect, ...(regression ? { regression } : {}) });
  const ipCase = (kind: string, ip: string) => add(`ip ${kind}`, json(event({ ip })), BAD_IP);
  const versionCase = (version: string) => add(`app_version ${JSON.stringify(version)}`, json(event({ app_version: version })), BAD_VERSION);

  // Controls that must load.
  add('valid', json(event()), 'loaded');
  add('valid, locale null', json(event({ locale: null })), 'loaded');
  add('valid behind a byte-order mark', `\uFEFF${json(event())}`, 'loaded');
  add('valid IPv6, compressed', json(event({ ip: `2001:db8::${(serial + 1).toString(16)}` })), 'loaded');
  add('valid IPv6, full upper-case', json(event({ ip: `2001:0DB8:0000:0000:0000:0000:0000:${String(serial + 1).padStart(4, '0')}` })), 'loaded');
  add('valid IPv4-mapped IPv6', json(event({ ip: `::ffff:203.0.113.${serial + 1}` })), 'loaded');
  add('valid app_version "7"', json(event({ app_version: '7' })), 'loaded');
  add('valid app_version "999.999.999"', json(event({ app_version: '999.999.999' })), 'loaded');
  add(
    'valid, every field at its length limit',
    json(event({ user_id: 'u'.repeat(128), device_type: 'd'.repeat(32), locale: 'l'.repeat(32), device_id: `${serial + 1}`.padEnd(256, '9') })),
    'loaded',
  );
  add('valid, 128 astral characters in user_id (256 UTF-16 units)', json(event({ user_id: '\u{1F600}'.repeat(128) })), 'loaded');
  add('valid, extra fields (one holding NUL)', json(event({ extra: 'a\u0000b', more: { n: 1 } })), 'loaded');
  add('valid, extra field nested 10,000 levels', json(event()).replace(/}$/, `,"deep":${nested('[', ']', '', 10_000)}}`), 'loaded');
  add('valid, duplicate ip key: the last (valid) one counts', json(event()).replace('"ip":', `"ip":"999.0.0.${serial}","ip":`), 'loaded');
  add('valid, C1 control U+0085 in user_id (not a C0 control)', json(event({ user_id: 'a\u0085b' })), 'loaded');
  // Up to the queue's MaximumMessageSize a body is an event, whatever it carries besides (issue 24).
  add('valid, but an extra field fills the body to exactly 1 MiB', sizedTo(SQS_MAX_BODY_BYTES, 'padding', 'é'), 'loaded');

  // Not JSON.
  add('plain text', 'not json at all', NOT_JSON);
  add('whitespace only', ' \t\r\n ', NOT_JSON);
  add('truncated after the ip', ((text) => text.slice(0, text.indexOf('"locale"') + 4))(json(event())), NOT_JSON);
  add('truncated to "{"', '{', NOT_JSON);
  add('trailing garbage', `${json(event())} x`, NOT_JSON);
  add('single quotes, unquoted keys', `{user_id:'u1',ip:'198.51.100.${serial + 1}'}`, NOT_JSON);
  add('NaN literal', json(event()).replace('"2.3.0"', 'NaN'), NOT_JSON);
  add('two objects', json(event()) + json(event()), NOT_JSON);
  add('comment', `{/* c */${json(event()).slice(1)}`, NOT_JSON);
  add('trailing comma', json(event()).replace(/}$/, ',}'), NOT_JSON);
  add('byte-order mark, then truncated', `\uFEFF${json(event()).slice(0, 40)}`, NOT_JSON);
  add('1 MiB of text', 'x'.repeat(SQS_MAX_BODY_BYTES), NOT_JSON);
  add('64 KiB of IPv4 addresses in text', Array.from({ length: 4_000 }, (_, i) => `10.${i >> 8}.${i & 255}.7`).join(' ').slice(0, 65_536), NOT_JSON);
  add(
    'truncated, with a device_id not shaped ddd-dd-dddd and an ip that is no address',
    `{"user_id":"user-t","device_id":"dev-${serial + 1}-abcdef","ip":"999.51.100.${serial + 1}","app_vers`,
    NOT_JSON,
    'redact: raw ip/device_id values of a non-JSON body stay in clear unless they look like an address or ddd-dd-dddd',
  );

  // JSON, not an object.
  add('empty array', '[]', NOT_OBJECT);
  add('an event in an array', json([event()]), NOT_OBJECT);
  add('string', '"a string"', NOT_OBJECT);
  add('number', '42', NOT_OBJECT);
  add('null', 'null', NOT_OBJECT);
  add('true', 'true', NOT_OBJECT);
  add('10,000 levels of [ ]', nested('[', ']', '', 10_000), NOT_OBJECT);
  add('[ ] nested to the 1 MiB limit', nested('[', ']', '', SQS_MAX_BODY_BYTES / 2), ['too_large']);

  // Missing or null fields.
  for (const field of ['user_id', 'device_type', 'ip', 'device_id', 'app_version', 'locale']) add(`missing ${field}`, without(field), MISSING);
  for (const field of ['user_id', 'device_type', 'ip', 'device_id', 'app_version']) add(`null ${field}`, json(event({ [field]: null })), MISSING);
  add('empty object', '{}', MISSING);
  add("the take-home's malformed message", '{"foo": "oops_wrong_msg_type", "bar": "123"}', MISSING);
  add('10,000 levels of {"a": }', nested('{"a":', '}', '1', 10_000), MISSING);
  add('duplicate user_id key: the last (null) one counts', json(event()).replace('"user_id":', '"user_id":"u-first","user_id":null,"x":'), MISSING);

  // Wrong JSON types.
  add('user_id a number', json(event({ user_id: 123 })), BAD_TYPE);
  add('user_id an array', json(event({ user_id: ['u1'] })), BAD_TYPE);
  add('device_type a boolean', json(event({ device_type: true })), BAD_TYPE);
  add('ip a number', json(event({ ip: 3_325_256_815 })), BAD_TYPE);
  add('ip an array of an address', json(event({ ip: [`198.51.100.${serial + 1}`] })), BAD_TYPE);
  add('device_id an object', json(event({ device_id: { id: `${serial + 1}-00-0000` } })), BAD_TYPE);
  add('app_version a number', json(event({ app_version: 2.3 })), BAD_TYPE);
  add('locale a number', json(event({ locale: 7 })), BAD_TYPE);
  add('locale an object', json(event({ locale: {} })), BAD_TYPE);
  add(
    'ip an array nested 10,000 levels',
    json(event()).replace(/"ip":"[^"]*"/, `"ip":${nested('[', ']', '', 10_000)}`),
    BAD_TYPE,
    'redact: maskAny JSON.stringify()s a deeply nested ip/device_id value and overflows the stack, crashing the worker',
  );
  add(
    'device_id an object nested 10,000 levels',
    json(event()).replace(/"device_id":"[^"]*"/, `"device_id":${nested('{"a":', '}', '1', 10_000)}`),
    BAD_TYPE,
    'redact: maskAny JSON.stringify()s a deeply nested ip/device_id value and overflows the stack, crashing the worker',
  );

  // Over-long strings.
  add('user_id 129 characters', json(event({ user_id: 'u'.repeat(129) })), TOO_LONG);
  add('user_id 129 astral characters', json(event({ user_id: '\u{1F600}'.repeat(129) })), TOO_LONG);
  add('device_type 33 characters', json(event({ device_type: 'd'.repeat(33) })), TOO_LONG);
  add('locale 33 characters', json(event({ locale: 'l'.repeat(33) })), TOO_LONG);
  add('device_id 257 characters', json(event({ device_id: `${serial + 1}-`.padEnd(257, '7') })), TOO_LONG);
  add('ip 65 characters', json(event({ ip: `2001:db8::${serial + 1}`.padEnd(65, '0') })), ['too_long', 'bad_ip']);
  add('app_version 33 characters', json(event({ app_version: '1.'.repeat(16) + '1' })), ['too_long', 'bad_app_version']);
  add('user_id filling the body to exactly 1 MiB', sizedTo(SQS_MAX_BODY_BYTES, 'user_id', 'u'), TOO_LONG);

  // Control characters and lone surrogates (sent JSON-escaped: SQS refuses them raw).
  add('NUL in user_id', json(event({ user_id: 'u\u0000' })), BAD_CHAR);
  add('U+0001 in device_type', json(event({ device_type: 'and\u0001roid' })), BAD_CHAR);
  add('U+001F in locale', json(event({ locale: 'R\u001fU' })), BAD_CHAR);
  add('DEL in device_id', json(event({ device_id: `${serial + 1}-00-1234\u007f` })), BAD_CHAR);
  add('tab in user_id', json(event({ user_id: 'u\t1' })), BAD_CHAR);
  add('newline in app_version', json(event({ app_version: '2.3\n' })), BAD_CHAR);
  add('NUL in ip', json(event({ ip: `198.51.100.${serial + 1}\u0000` })), ['bad_char', 'bad_ip']);
  add('lone high surrogate in user_id', json(event({ user_id: 'u\ud800' })), BAD_CHAR);
  add('lone low surrogate in locale', json(event({ locale: '\udc00' })), BAD_CHAR);
  add('surrogates in the wrong order in device_type', json(event({ device_type: '\udc00\ud800' })), BAD_CHAR);

  // Addresses that are not addresses.
  ipCase('999.x.x.x', `999.51.100.${serial + 1}`);
  ipCase('three parts', `198.51.${serial + 1}`);
  ipCase('leading zeros', `198.051.100.${serial + 1}`);
  ipCase('leading space', ` 198.51.100.${serial + 1}`);
  ipCase('trailing space', `198.51.100.${serial + 1} `);
  ipCase('inner space', `198.51. 100.${serial + 1}`);
  ipCase('IPv6 zone id', `fe80::${(serial + 1).toString(16)}%eth0`);
  ipCase('IPv6 non-hex group', `2001:db8::g${serial + 1}`);
  ipCase('IPv6 five-digit group', `2001:db8::1${String(serial + 1).padStart(4, '0')}`);
  ipCase('IPv6 ":::"', `2001:db8:::${serial + 1}`);
  ipCase('IPv6 two "::"', `2001::db8::${serial + 1}`);
  ipCase('IPv6 nine groups', `1:2:3:4:5:6:7:8:${serial + 1}`);
  ipCase('IPv6 in brackets', `[2001:db8::${serial + 1}]`);
  ipCase('CIDR suffix', `198.51.100.${serial + 1}/24`);
  ipCase('with a port', `198.51.100.${serial + 1}:8080`);
  ipCase('hex octets', `0xC6.0x33.0x64.0x${(serial + 1).toString(16)}`);
  ipCase('IPv4-mapped with a bad IPv4', `::ffff:999.51.100.${serial + 1}`);
  ipCase('Arabic-Indic digits', '١٩٨.٥١.١٠٠.٧');
  ipCase('host name', `host-${serial + 1}.example.com`);
  ipCase('empty', '');

  // Versions that are not versions.
  for (const version of ['1.2.3.4', 'v1', '', '1000', '1.', '-1', '1..2', '1.2.3-beta', ' 1.2', '１.２', '0x1']) versionCase(version);

  // Duplicate keys where the last one is wrong.
  add('duplicate ip key: the last one is no address', json(event()).replace(/"ip":"([^"]*)"/, `"ip":"$1","ip":"999.1.1.${serial + 1}"`), BAD_IP);

  return cases;
}

// ---------------------------------------------------------------------------------------------
// Generated bodies.

const TEXT_FIELDS = ['user_id', 'device_type', 'ip', 'device_id', 'app_version', 'locale'] as const;

/**
 * `count` bodies from fast-check, reproducible by `seed`: random JSON and text, and sample events
 * mutated. Each mutation gets an event of its own, so no two bodies share a user_id.
 */
export function generatedBodies(count: number, seed: number): string[] {
  const events = generateSample({ count, malformed: 0, seed }).bodies.map((body) => JSON.parse(body) as Record<string, unknown>);
  type Make = (e: Record<string, unknown>) => string;
  const aField = fc.constantFrom(...TEXT_FIELDS);
  const text = (value: fc.Arbitrary<string>) => value.map((body): Make => () => body);
  const set = (field: string, value: fc.Arbitrary<unknown>) => value.map((v): Make => (e) => JSON.stringify({ ...e, [field]: v }));
  const anyField = (value: fc.Arbitrary<unknown>) =>
    fc.tuple(aField, value).map(([field, v]): Make => (e) => JSON.stringify({ ...e, [field]: v }));
  const nearLimit = (field: 'user_id' | 'device_type' | 'locale' | 'device_id', limit: number) =>
    set(field, fc.string({ unit: fc.constantFrom('a', 'é', '\u{1F600}'), minLength: limit - 2, maxLength: limit + 2 }));

  const make: fc.Arbitrary<Make> = fc.oneof(
    { weight: 3, arbitrary: text(fc.json()) },
    { weight: 2, arbitrary: text(fc.json({ stringUnit: 'binary' })) },
    { weight: 2, arbitrary: text(fc.string()) },
    { weight: 2, arbitrary: text(fc.string({ unit: 'binary' })) },
    { weight: 2, arbitrary: fc.constant<Make>((e) => JSON.stringify(e)) },
    // A random field replaced by any value (undefined drops it; NaN becomes null).
    { weight: 4, arbitrary: anyField(fc.anything()) },
    { weight: 2, arbitrary: anyField(fc.string({ unit: 'binary', maxLength: 40 })) },
    { weight: 1, arbitrary: anyField(fc.constant(null)) },
    { weight: 1, arbitrary: anyField(fc.constant(undefined)) },
    {
      weight: 3,
      arbitrary: set('ip', fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.domain(), fc.stringMatching(/^[0-9a-fA-F:.% ]{1,24}$/))),
    },
    { weight: 2, arbitrary: set('app_version', fc.oneof(fc.stringMatching(/^-?[0-9]{0,4}(\.[0-9]{0,4}){0,3}$/), fc.string({ maxLength: 6 }))) },
    { weight: 1, arbitrary: nearLimit('user_id', 128) },
    { weight: 1, arbitrary: nearLimit('device_type', 32) },
    { weight: 1, arbitrary: nearLimit('locale', 32) },
    { weight: 1, arbitrary: nearLimit('device_id', 256) },
    // Truncated anywhere; a byte-order mark in front; an extra field of any JSON.
    { weight: 2, arbitrary: fc.nat().map((cut): Make => (e) => JSON.stringify(e).slice(0, cut % JSON.stringify(e).length)) },
    { weight: 1, arbitrary: fc.constant<Make>((e) => `\uFEFF${JSON.stringify(e)}`) },
    { weight: 2, arbitrary: fc.jsonValue().map((extra): Make => (e) => JSON.stringify({ ...e, extra })) },
  );
  return fc.sample(make, { seed, numRuns: count }).map((body, i) => body(events[i] ?? {}));
}
