import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ColumnType } from '../../../src/model/pipeline.js';
import { canonicalJson, hasBadChar, plainDecimal, readColumnValue, utcTimestamp, JSONB_MAX_DEPTH } from '../../../src/transform/column-value.js';

const T = {
  text: { kind: 'text' },
  varchar3: { kind: 'varchar', length: 3 },
  integer: { kind: 'integer' },
  bigint: { kind: 'bigint' },
  numeric: { kind: 'numeric' },
  boolean: { kind: 'boolean' },
  date: { kind: 'date' },
  timestamptz: { kind: 'timestamptz' },
  jsonb: { kind: 'jsonb' },
  ip: { kind: 'ip' },
  version: { kind: 'version' },
} as const satisfies Record<string, ColumnType>;

const accepted = (type: ColumnType, value: unknown) => {
  const read = readColumnValue(type, value);
  if (!read.ok) throw new Error(`refused ${JSON.stringify(value)}: ${read.reason}`);
  return read;
};
const reasonOf = (type: ColumnType, value: unknown) => {
  const read = readColumnValue(type, value);
  return read.ok ? 'ok' : read.reason;
};

describe('readColumnValue', () => {
  it.each([
    [T.text, 'héllo 🙂', 'héllo 🙂'],
    [T.varchar3, '🙂🙂🙂', '🙂🙂🙂'],
    [T.integer, 42, '42'],
    [T.integer, -(2 ** 31), '-2147483648'],
    [T.integer, -0, '0'],
    [T.bigint, 2 ** 53 - 1, '9007199254740991'],
    [T.bigint, '-9223372036854775808', '-9223372036854775808'],
    [T.bigint, '007', '7'],
    [T.numeric, 1.5, '1.5'],
    [T.numeric, '-001.2500', '-1.25'],
    [T.numeric, 1e21, '1000000000000000000000'],
    [T.numeric, 1.5e-7, '0.00000015'],
    [T.numeric, '-0.000', '0'],
    [T.boolean, false, 'false'],
    [T.date, '2024-02-29', '2024-02-29'],
    [T.timestamptz, '2024-01-15T12:00:00Z', '2024-01-15T12:00:00Z'],
    [T.timestamptz, '2024-01-15T12:00:00.120+02:00', '2024-01-15T10:00:00.12Z'],
    [T.timestamptz, '2024-01-01 00:30:00.123456789-01:00', '2024-01-01T01:30:00.123456Z'],
    [T.timestamptz, '2024-01-01t00:30:00z', '2024-01-01T00:30:00Z'],
    [T.jsonb, { b: [1, { d: null, c: 'x' }], a: true }, '{"a":true,"b":[1,{"c":"x","d":null}]}'],
    [T.jsonb, 'just text', '"just text"'],
    [T.ip, '::FFFF:1.2.3.4', '1.2.3.4'],
    [T.ip, '2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
  ] as const)('reads %j %j as %j', (type, value, expected) => {
    const read = accepted(type, value);
    expect(read.value).toBe(expected);
    expect(read.canonical).toBe(expected);
  });

  it('reads a version as today\'s integer, keeps its text as raw, and masks the integer\'s text', () => {
    expect(accepted(T.version, '2.3')).toEqual({ ok: true, value: '2003000', canonical: '2003000', raw: '2.3' });
  });

  it.each([
    [T.text, 1, 'bad_type'],
    [T.varchar3, 'abcd', 'too_long'],
    [T.varchar3, ['a'], 'bad_type'],
    [T.integer, '1', 'bad_type'],
    [T.integer, 1.5, 'bad_value'],
    [T.integer, 2 ** 31, 'bad_value'],
    [T.bigint, 2 ** 53, 'bad_value'],
    [T.bigint, '9223372036854775808', 'bad_value'],
    [T.bigint, '1.0', 'bad_value'],
    [T.bigint, true, 'bad_type'],
    [T.numeric, Infinity, 'bad_value'],
    [T.numeric, '1e5', 'bad_value'],
    [T.numeric, `0.${'1'.repeat(16_384)}`, 'bad_value'],
    [T.numeric, null, 'bad_type'],
    [T.boolean, 'true', 'bad_type'],
    [T.boolean, 1, 'bad_type'],
    [T.date, '2023-02-29', 'bad_value'],
    [T.date, '0000-01-01', 'bad_value'],
    [T.date, '2024-1-01', 'bad_value'],
    [T.date, 20240101, 'bad_type'],
    [T.timestamptz, '2024-01-15T12:00:00', 'bad_value'],
    [T.timestamptz, '2024-01-15T12:00Z', 'bad_value'],
    [T.timestamptz, '2024-01-15T24:00:00Z', 'bad_value'],
    [T.timestamptz, '2024-12-31T23:59:60Z', 'bad_value'],
    [T.timestamptz, '2024-01-15T12:00:00+16:00', 'bad_value'],
    [T.timestamptz, '9999-12-31T23:00:00-02:00', 'bad_value'],
    [T.timestamptz, '0001-01-01T00:30:00+01:00', 'bad_value'],
    [T.timestamptz, 1705320000000, 'bad_type'],
    [T.ip, 'x'.repeat(65), 'too_long'],
    [T.ip, '1.2.3', 'bad_ip'],
    [T.ip, 'fe80::1%eth0', 'bad_ip'],
    [T.ip, 1234, 'bad_type'],
    [T.version, 'x'.repeat(33), 'too_long'],
    [T.version, '1.2.3.4', 'bad_app_version'],
    [T.version, 2, 'bad_type'],
  ] as const)('refuses %j %j: %s', (type, value, reason) => {
    expect(reasonOf(type, value)).toBe(reason);
  });

  it('caps jsonb nesting: 64 levels pass, 65 are bad_value, and a deep value is not walked', () => {
    const nested = (depth: number): unknown => (depth === 0 ? 1 : [nested(depth - 1)]);
    expect(reasonOf(T.jsonb, nested(JSONB_MAX_DEPTH))).toBe('ok');
    expect(reasonOf(T.jsonb, nested(JSONB_MAX_DEPTH + 1))).toBe('bad_value');
    const deep = JSON.parse('['.repeat(30_000) + ']'.repeat(30_000)) as unknown;
    expect(hasBadChar(T.jsonb, deep)).toBe(false);
    expect(reasonOf(T.jsonb, deep)).toBe('bad_value');
  });

  it('gives one canonical jsonb text whatever the order of keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        const text = canonicalJson(record, 0);
        expect(canonicalJson(reversed, 0)).toBe(text);
        // Still JSON, and the same value.
        expect(JSON.parse(text as string)).toEqual(JSON.parse(JSON.stringify(record)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('hasBadChar', () => {
  it.each([
    [T.text, 'a\u0000b', true],
    [T.text, 'tab\there', true],
    [T.text, 'del\u007f', true],
    [T.text, 'lone \ud800', true],
    [T.text, 'fine 🙂', false],
    [T.integer, 1, false],
    [T.integer, 'x\u0001', true],
    [T.jsonb, { a: ['x\u0000'] }, true],
    [T.jsonb, { 'k\ud800': 1 }, true],
    [T.jsonb, { a: 'tab\tis escaped in JSON' }, false],
  ] as const)('%j %j: %s', (type, value, bad) => {
    expect(hasBadChar(type, value)).toBe(bad);
  });
});

describe('plainDecimal and utcTimestamp', () => {
  it('agree with Number on every finite double: the plain text reads back as the same number', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const text = plainDecimal(String(n));
        expect(text).not.toBeNull();
        expect(text).toMatch(/^-?(0|[1-9]\d*)(\.\d*[1-9])?$/);
        expect(Number(text)).toBe(n === 0 ? 0 : n);
      }),
      { numRuns: 1000 },
    );
  });

  it('names the same instant as Date does, for every millisecond instant and offset', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0002-01-01T00:00:00Z'), max: new Date('9998-12-31T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: -(15 * 60 + 59), max: 15 * 60 + 59 }),
        (date, offset) => {
          const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 23);
          const sign = offset < 0 ? '-' : '+';
          const abs = Math.abs(offset);
          const text = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          const utc = utcTimestamp(text);
          expect(utc).not.toBeNull();
          expect(new Date(utc as string).getTime()).toBe(date.getTime());
        },
      ),
      { numRuns: 1000 },
    );
  });
});
