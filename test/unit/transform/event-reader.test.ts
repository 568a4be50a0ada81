import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { storedColumnsOf } from '../../../src/model/pipeline.js';
import { compileEventReader, type EventReading, type EventRow } from '../../../src/transform/event-reader.js';
import { createMasker, SEAL_REF } from '../../../src/transform/mask.js';
import type { InboundMessage } from '../../../src/model/message.js';
import { column, LOGINS, PAGE_VIEWS } from '../../fixtures/pipelines.js';

const masker = createMasker(Buffer.alloc(32, 7), 'k1');
const SENT_AT = Date.UTC(2024, 0, 15, 12, 0, 0);
const message: InboundMessage = { messageId: 'msg-1', body: '', sentAtMs: SENT_AT, receiveCount: 1 };

const VIEW = {
  visitor: { id: 'v-42', email: 'ada@example.com' },
  ip: '::ffff:10.0.0.1',
  page: { url: 'https://example.com/a' },
  duration_ms: 1200,
  viewed_at: '2024-01-15T13:00:00+01:00',
  tags: { z: 1, a: ['x'] },
};

function rowOf(reading: EventReading): EventRow {
  if (!reading.ok) throw new Error(`refused: ${reading.reason} ${reading.field}`);
  return reading.row;
}

describe('compileEventReader, the issue\'s page_views', () => {
  const read = compileEventReader(PAGE_VIEWS, masker);

  it('gives the values in the stored columns\' order, masks by label, keys the subject under the table, and keeps the originals', () => {
    const row = rowOf(read(message, VIEW));
    expect(storedColumnsOf(PAGE_VIEWS).map((c) => c.name)).toEqual(['visitor_id', 'masked_email', 'masked_ip', 'url', 'duration_ms', 'viewed_at', 'tags']);
    expect(row.values).toEqual([
      'v-42',
      masker.mask('masked_email', 'ada@example.com'),
      masker.mask('masked_ip', '10.0.0.1'),
      'https://example.com/a',
      '1200',
      '2024-01-15T12:00:00Z',
      '{"a":["x"],"z":1}',
    ]);
    expect(row.subjectKey).toBe(masker.subjectKey('page_views', 'v-42'));
    expect(row.originals).toEqual([
      { mask: masker.mask('masked_email', 'ada@example.com'), label: 'masked_email', value: 'ada@example.com' },
      { mask: masker.mask('masked_ip', '10.0.0.1'), label: 'masked_ip', value: '10.0.0.1' },
    ]);
    expect(JSON.stringify(rowOf(compileEventReader(PAGE_VIEWS, masker, { originals: false })(message, VIEW)))).not.toMatch(/ada@|10\.0\.0\.1/);
  });

  it('leaves an absent optional column NULL, and a null one', () => {
    const { tags: _tags, ip: _ip, ...rest } = VIEW;
    const row = rowOf(read(message, { ...rest, duration_ms: null }));
    expect(row.values[2]).toBeNull();
    expect(row.values[4]).toBeNull();
    expect(row.values[6]).toBeNull();
    expect(row.originals).toHaveLength(1);
  });

  it.each([
    ['not an object', [VIEW], 'not_object', null],
    ['a required path through a scalar', { ...VIEW, visitor: 'v-42' }, 'missing_field', 'visitor.id'],
    ['a required path through an array', { ...VIEW, page: [{ url: 'x' }] }, 'missing_field', 'page.url'],
    ['a required value null', { ...VIEW, viewed_at: null }, 'missing_field', 'viewed_at'],
    ['missing before a bad character', { ...VIEW, visitor: { id: 'a\u0000' }, viewed_at: undefined }, 'missing_field', 'viewed_at'],
    ['a bad character before a bad type', { ...VIEW, duration_ms: 'x', tags: ['\u0000'] }, 'bad_char', 'tags'],
    ['types column by column', { ...VIEW, ip: 'nope', duration_ms: 'x' }, 'bad_ip', 'ip'],
    ['an integer out of range', { ...VIEW, duration_ms: 2 ** 31 }, 'bad_value', 'duration_ms'],
    ['an instant without offset', { ...VIEW, viewed_at: '2024-01-15T13:00:00' }, 'bad_value', 'viewed_at'],
  ])('refuses %s', (_name, body, reason, field) => {
    expect(read(message, body)).toEqual({ ok: false, reason, field });
  });

  it('reads own keys only: a path named like a prototype\'s property is missing, not Object\'s', () => {
    const spec = { ...PAGE_VIEWS, subject: null, columns: [column('c', 'constructor', { kind: 'text' }, { required: true }), column('p', 'toString.name', { kind: 'text' })] };
    expect(compileEventReader(spec, masker)(message, {})).toEqual({ ok: false, reason: 'missing_field', field: 'constructor' });
    expect(rowOf(compileEventReader(spec, masker)(message, JSON.parse('{"constructor":"c","__proto__":"x"}'))).values).toEqual(['c', null]);
  });
});

describe('compileEventReader, facts, seals and subjects', () => {
  it('reads the message facts, seals a column as its entry\'s reference with its original kept, stores a subject key when no column holds the subject', () => {
    const spec = {
      ...PAGE_VIEWS,
      subject: ['email'],
      columns: [
        column('day', '$sent_date', { kind: 'date' }),
        column('at', '$sent_at', { kind: 'timestamptz' }),
        column('id', '$message_id', { kind: 'varchar', length: 128 }),
        column('email', 'email', { kind: 'text' }, { pii: 'seal' }),
        column('v', 'v', { kind: 'version' }),
      ],
    };
    expect(storedColumnsOf(spec).map((c) => [c.name, c.sqlType])).toEqual([
      ['day', 'date'],
      ['at', 'timestamptz'],
      ['id', 'varchar(128)'],
      ['email', 'varchar(256)'],
      ['v', 'integer'],
      ['v_raw', 'varchar(32)'],
      ['sqs2pg_subject_key', 'varchar(256)'],
    ]);
    const row = rowOf(compileEventReader(spec, masker)(message, { email: 'ada@example.com', v: '1.2' }));
    const key = masker.subjectKey('page_views', 'ada@example.com');
    const ref = masker.sealRef('email', 'msg-1', 'ada@example.com');
    expect(ref).toMatch(SEAL_REF);
    expect(row.values).toEqual(['2024-01-15', '2024-01-15T12:00:00.000Z', 'msg-1', ref, '1002000', '1.2', key]);
    expect(row.subjectKey).toBe(key);
    // The subject is only keyed in the table: its value goes to the vault under its key, for rotate (sql/0013).
    expect(row.originals).toEqual([
      { mask: ref, label: 'email', value: 'ada@example.com' },
      { mask: key, label: 'subject:page_views', value: 'ada@example.com' },
    ]);
    // Another message of the same value: another reference (a sealed column shows no duplicates); the same message: the same.
    const again = (messageId: string) => rowOf(compileEventReader(spec, masker)({ ...message, messageId }, { email: 'ada@example.com', v: '1.2' })).values[3];
    expect(again('msg-2')).not.toBe(ref);
    expect(again('msg-1')).toBe(ref);
    // Vault off: no original at all, the subject's neither, and no entry to name.
    const off = rowOf(compileEventReader(spec, masker, { originals: false })(message, { email: 'ada@example.com', v: '1.2' }));
    expect([off.originals, off.values[3]]).toEqual([[], null]);
  });

  it('keys a subject no column reads from clean text or an integer, and nobody from anything else', () => {
    const spec = { ...PAGE_VIEWS, subject: ['who'], columns: [column('x', 'x', { kind: 'text' })] };
    const read = compileEventReader(spec, masker);
    expect(rowOf(read(message, { who: 7 })).subjectKey).toBe(masker.subjectKey('page_views', '7'));
    expect(rowOf(read(message, { who: 'a\u0001' })).subjectKey).toBeNull();
    expect(rowOf(read(message, { who: { id: 1 } })).subjectKey).toBeNull();
    expect(rowOf(read(message, {})).values).toEqual([null, null]);
  });

  it('keys the builtin logins\' subject exactly as userKey', () => {
    const body = { user_id: 'u1', device_type: 'ios', ip: '1.2.3.4', device_id: 'd', app_version: '1', locale: null };
    expect(rowOf(compileEventReader(LOGINS, masker)(message, body)).subjectKey).toBe(masker.userKey('u1'));
  });
});

describe('compileEventReader on any JSON', () => {
  const every = {
    ...PAGE_VIEWS,
    subject: ['a', 'subject'],
    columns: [
      column('t', 'a.t', { kind: 'text' }, { required: true, nullable: true }),
      column('v', 'v', { kind: 'varchar', length: 4 }, { pii: 'seal' }),
      column('i', 'a.i', { kind: 'integer' }),
      column('b', 'b', { kind: 'bigint' }, { pii: 'mask' }),
      column('n', 'n', { kind: 'numeric' }),
      column('bool', 'bool', { kind: 'boolean' }),
      column('d', 'd', { kind: 'date' }),
      column('ts', 'ts', { kind: 'timestamptz' }),
      column('j', 'a', { kind: 'jsonb' }, { pii: 'mask' }),
      column('ip', 'ip', { kind: 'ip' }),
      column('ver', 'ver', { kind: 'version' }),
    ],
  } satisfies typeof PAGE_VIEWS;
  const read = compileEventReader(every, masker);
  const fields = new Set(['a.t', 'v', 'a.i', 'b', 'n', 'bool', 'd', 'ts', 'a', 'ip', 'ver']);
  const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'binary' }), fc.constantFrom('2024-02-30', '2024-01-01T00:00:00Z', '1.2.3', '::1', 2 ** 31, '9223372036854775808'));
  const bodies = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    fc.record({ a: fc.oneof(fc.record({ t: value, i: value, subject: value }, { requiredKeys: [] }), value), v: value, b: value, n: value, bool: value, d: value, ts: value, ip: value, ver: value }, { requiredKeys: [] }),
  );

  it('answers every body, a row of text or NULL in the stored columns\' number, or a reason naming one of its fields', () => {
    fc.assert(
      fc.property(bodies, (body) => {
        const reading = read(message, body);
        if (reading.ok) {
          expect(reading.row.values).toHaveLength(storedColumnsOf(every).length);
          for (const v of reading.row.values) expect(v === null || typeof v === 'string').toBe(true);
          expect(reading.row.values[1]).toBeNull();
        } else if (reading.reason !== 'not_object') {
          expect(fields.has(reading.field as string)).toBe(true);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it('stops at a body nested as deep as 64 KiB allows, without walking it', () => {
    const deep = JSON.parse(`{"a":${'['.repeat(30_000)}${']'.repeat(30_000)},"a.t":null}`) as unknown;
    expect(read(message, deep)).toEqual({ ok: false, reason: 'missing_field', field: 'a.t' });
    const deepButThere = JSON.parse(`{"a":{"t":"x","deep":${'['.repeat(30_000)}${']'.repeat(30_000)}}}`) as unknown;
    expect(read(message, deepButThere)).toEqual({ ok: false, reason: 'bad_value', field: 'a' });
  });
});
