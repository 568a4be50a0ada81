// What the reader accepts, PostgreSQL takes, and gives back as the reader's canonical text: for
// every declared type, hostile and edge values generated, read, inserted as text parameters into
// the table applyDeclaredTables created, and read back. A value the reader lets through that the
// column cannot hold would be a whole batch failing in the database (db_rejected).
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDeclaredTables } from '../../src/db/declared-tables.js';
import { createPool } from '../../src/db/pool.js';
import { storedColumnsOf, type PipelineSpec } from '../../src/model/pipeline.js';
import { compileEventReader } from '../../src/transform/event-reader.js';
import { createMasker } from '../../src/transform/mask.js';
import { column } from '../fixtures/pipelines.js';
import { createTestStack, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';

const EVERY_TYPE: PipelineSpec = {
  name: 'every_type',
  builtin: false,
  queue: 'q',
  table: { schema: null, name: 'every_type' },
  subject: null,
  columns: [
    column('t', 't', { kind: 'text' }),
    column('v', 'v', { kind: 'varchar', length: 5 }),
    column('i', 'i', { kind: 'integer' }),
    column('b', 'b', { kind: 'bigint' }),
    column('n', 'n', { kind: 'numeric' }),
    column('bool', 'bool', { kind: 'boolean' }),
    column('d', 'd', { kind: 'date' }),
    column('ts', 'ts', { kind: 'timestamptz' }),
    column('j', 'j', { kind: 'jsonb' }),
    column('ip', 'ip', { kind: 'ip' }),
    column('ver', 'ver', { kind: 'version' }),
  ],
};

let stack: TestStack;
let pool: pg.Pool;
beforeAll(async () => {
  stack = await createTestStack();
  pool = createPool(stack.databaseUrl, 2);
  await applyDeclaredTables(pool, [EVERY_TYPE]);
});
afterAll(async () => {
  await pool.end();
  await stack.close();
});

const text = fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 6 }));
const pad = (n: number, width: number) => String(n).padStart(width, '0');
const instant = fc
  .tuple(fc.date({ min: new Date('0001-01-02T00:00:00Z'), max: new Date('9999-12-30T00:00:00Z'), noInvalidDate: true }), fc.integer({ min: -959, max: 959 }), fc.stringMatching(/^(\.\d{1,9})?$/), fc.constantFrom('T', ' ', 't'))
  .map(([date, offset, fraction, t]) => {
    const local = new Date(date.getTime() + offset * 60_000).toISOString();
    const sign = offset < 0 ? '-' : '+';
    const zone = offset === 0 ? 'Z' : `${sign}${pad(Math.floor(Math.abs(offset) / 60), 2)}:${pad(Math.abs(offset) % 60, 2)}`;
    return `${local.slice(0, 10)}${t}${local.slice(11, 19)}${fraction}${zone}`;
  });
const body = fc.record(
  {
    t: fc.oneof(text, fc.integer()),
    v: text,
    i: fc.oneof(fc.integer(), fc.integer({ min: -(2 ** 31) - 2, max: -(2 ** 31) + 2 }), fc.integer({ min: 2 ** 31 - 2, max: 2 ** 31 + 2 }), fc.double()),
    b: fc.oneof(fc.maxSafeInteger(), fc.bigInt({ min: -(2n ** 63n) - 2n, max: 2n ** 63n + 1n }).map(String), fc.stringMatching(/^-?0*\d{1,20}$/)),
    n: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.stringMatching(/^-?\d{1,30}(\.\d{1,30})?$/), fc.constantFrom('1e5', '1.', '.5', 'NaN', true)),
    bool: fc.oneof(fc.boolean(), fc.constantFrom('true', 0)),
    d: fc.oneof(fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true }).map((date) => date.toISOString().slice(0, 10)), fc.stringMatching(/^\d{4}-\d{2}-\d{2}$/)),
    ts: fc.oneof(instant, fc.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/)),
    j: fc.jsonValue({ maxDepth: 4 }),
    ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), text),
    ver: fc.oneof(fc.stringMatching(/^\d{1,4}(\.\d{1,4}){0,3}$/), text),
  },
  { requiredKeys: [] },
);

// Every column back as text the reader's canonical form can be compared with.
const READ_BACK = `SELECT t, v, i::text, b::text, n::text, bool::text, to_char(d, 'YYYY-MM-DD') AS d,
  to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS ts, j::text, ip, ver::text, ver_raw
  FROM public.every_type WHERE sqs_message_id = $1`;

describe('every declared type, read then loaded', () => {
  it('PostgreSQL takes every value the reader accepts, and gives back its canonical text', async () => {
    const read = compileEventReader(EVERY_TYPE, createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1'));
    const stored = storedColumnsOf(EVERY_TYPE);
    // varchar(N) parameters go in as text: an explicit cast to varchar(N) would cut a value silently,
    // where the column's own assignment refuses one too long.
    const casts = stored.map((c, i) => `$${i + 1}::${c.sqlType.startsWith('varchar') ? 'text' : c.sqlType}`);
    const insert = `INSERT INTO public.every_type (${stored.map((c) => c.name).join(', ')}, sqs_message_id) VALUES (${casts.join(', ')}, $${stored.length + 1})`;
    // One field a body: a refusal of one value does not hide the others.
    const samples = fc.sample(body, { numRuns: 200, seed: 25 }).flatMap((sample) => Object.entries(sample).map(([key, value]) => ({ [key]: value })));
    let loaded = 0;
    const outcomes = new Set<string>();
    for (const [n, sample] of samples.entries()) {
      const reading = read({ messageId: `m-${n}`, body: '', sentAtMs: 0, receiveCount: 1 }, JSON.parse(JSON.stringify(sample)));
      outcomes.add(`${Object.keys(sample)[0] ?? ''} ${reading.ok ? 'loaded' : 'refused'}`);
      if (!reading.ok) continue;
      const values = reading.row.values;
      await pool.query(insert, [...values, `m-${n}`]);
      const back = (await pool.query<Record<string, string | null>>(READ_BACK, [`m-${n}`])).rows[0];
      const [t, v, i, b, num, bool, d, ts, j, ip, ver, verRaw] = values;
      expect(back).toEqual({
        t,
        v,
        i,
        b,
        n: num,
        bool,
        d,
        // The canonical instant, its fraction written out to microseconds as to_char's US does.
        ts: typeof ts === 'string' ? ts.replace(/Z$/, '').replace(/^(.{19})(?:\.(\d+))?$/, (_: string, head: string, f: string | undefined) => `${head}.${(f ?? '').padEnd(6, '0')}`) : null,
        j: back?.j ?? null,
        ip,
        ver,
        ver_raw: verRaw,
      });
      // jsonb comes back in PostgreSQL's own spelling: the same value as the canonical text.
      expect(back?.j === null ? null : JSON.parse(back?.j as string)).toEqual(j === null ? null : JSON.parse(j as string));
      loaded++;
    }
    // Enough of the generated bodies pass for this to mean something, and enough are refused.
    expect(loaded).toBeGreaterThan(samples.length / 3);
    expect(loaded).toBeLessThan(samples.length);
    // Each type both loaded and refused (jsonb: any JSON is a value), so no rule went untested.
    const keys = EVERY_TYPE.columns.map((c) => c.name);
    expect(keys.flatMap((key) => (key === 'j' ? [`${key} loaded`] : [`${key} loaded`, `${key} refused`])).filter((outcome) => !outcomes.has(outcome))).toEqual([]);
  });
});
