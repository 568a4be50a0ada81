// A declared pipeline's quarantine record (issue 25): the masks of its `pii: mask` fields by label,
// equal to the masks the row would have held; its subject only as the key erasure matches; a shape
// that shows only the declaration's names; nothing of a `seal` field; and logins exactly as before.
import { describe, expect, it } from 'vitest';
import { compileEventReader } from '../../../src/transform/event-reader.js';
import { createMasker } from '../../../src/transform/mask.js';
import { reject } from '../../../src/transform/message-to-row.js';
import { parseJson } from '../../../src/transform/login-event.js';
import type { InboundMessage, Rejection, RejectReason } from '../../../src/model/message.js';
import type { PipelineSpec } from '../../../src/model/pipeline.js';
import { column, LOGINS, PAGE_VIEWS } from '../../fixtures/pipelines.js';

const masker = createMasker(Buffer.alloc(32, 11), 'k1');
const message = (body: string): InboundMessage => ({ messageId: 'm-1', body, sentAtMs: Date.UTC(2026, 0, 1), receiveCount: 1 });

/** As the runtime refuses a declared event: parsed once, the spec passed to reject. */
function recordOf(spec: PipelineSpec, body: string, reason: RejectReason = 'bad_type', field: string | null = null): Rejection {
  return reject(message(body), masker, reason, field, null, Buffer.byteLength(body), parseJson(body), spec);
}

const view = (fields: Record<string, unknown> = {}) => ({
  visitor: { id: 'V-ALICE-1', email: 'alice@example.com' },
  ip: '2001:DB8::0001',
  page: { url: 'https://shop.example/cart?user=alice' },
  duration_ms: 1200,
  viewed_at: '2026-01-01T10:00:00Z',
  tags: { campaign: 'Alice-Spring' },
  ...fields,
});

const pathsOf = (record: Rejection) => (JSON.parse(record.body!.shape) as { entries: { path: string }[] }).entries.map((entry) => entry.path);

describe('a declared pipeline\'s quarantine record', () => {
  it('keeps the masks the row would have held, by label, and the subject\'s key the row would have had', () => {
    const good = view();
    const row = compileEventReader(PAGE_VIEWS, masker)(message(JSON.stringify(good)), good);
    expect(row.ok).toBe(true);
    if (!row.ok) return;
    const record = recordOf(PAGE_VIEWS, JSON.stringify(view({ duration_ms: 'long' })), 'bad_type', 'duration_ms');
    // storedColumnsOf order: visitor_id, masked_email, masked_ip, ...
    expect(record.body!.maskedValues).toEqual({ masked_email: [row.row.values[1]], masked_ip: [row.row.values[2]] });
    expect(record.body!.maskedValues.masked_ip).toEqual([masker.mask('masked_ip', '2001:db8::1')]);
    expect(record.userKey).toBe(row.row.subjectKey);
    expect(record.userKey).toBe(masker.subjectKey('page_views', 'V-ALICE-1'));
    expect(record.body!.maskedIps).toEqual([]);
    expect(record.body!.maskedDeviceIds).toEqual([]);
  });

  it('holds no value of the body, in any field', () => {
    const text = JSON.stringify(recordOf(PAGE_VIEWS, JSON.stringify(view({ viewed_at: 'yesterday' })), 'bad_value', 'viewed_at'));
    for (const value of ['V-ALICE-1', 'alice@example.com', '2001:DB8', '2001:db8', 'shop.example', 'Alice-Spring', 'campaign', 'yesterday']) expect(text).not.toContain(value);
  });

  it('shows the declared names wherever they are, and no other key: a key may be the very value a field should hold', () => {
    const body = JSON.stringify({
      visitor: { 'alice@example.com': true, id: 7 },
      email: 'bob@example.com',
      page: { url: 'u', 'V-BOB-2': 1 },
      tags: { 'carol@example.com': ['x'] },
    });
    const record = recordOf(PAGE_VIEWS, body);
    expect(pathsOf(record)).toEqual([
      '$', 'visitor', 'email', 'page', 'tags',
      'visitor.<17 chars>', 'visitor.id', 'page.url', 'page.<7 chars>', 'tags.<17 chars>', 'tags.<17 chars>[0]',
    ]);
    for (const value of ['alice@example.com', 'bob@example.com', 'V-BOB-2', 'carol@example.com']) expect(JSON.stringify(record)).not.toContain(value);
    // A declared field out of place is still the person's: masked under its label.
    expect(record.body!.maskedValues.masked_email).toEqual([masker.mask('masked_email', 'bob@example.com')]);
  });

  it('keys a subject a column reads as the column reads it, and one no column reads as the event reader does', () => {
    expect(recordOf(PAGE_VIEWS, JSON.stringify(view({ url: 1 }))).userKey).toBe(masker.subjectKey('page_views', 'V-ALICE-1'));
    const byIp: PipelineSpec = { ...PAGE_VIEWS, name: 'by_ip', table: { schema: null, name: 'by_ip' }, subject: ['ip'] };
    expect(recordOf(byIp, JSON.stringify(view())).userKey).toBe(masker.subjectKey('by_ip', '2001:db8::1'));
    const unread: PipelineSpec = { ...PAGE_VIEWS, name: 'unread', table: { schema: null, name: 'unread' }, subject: ['account', 'number'] };
    expect(recordOf(unread, JSON.stringify(view({ account: { number: 42 } }))).userKey).toBe(masker.subjectKey('unread', '42'));
    expect(recordOf(unread, JSON.stringify(view({ account: { number: 'a\u0000b' } }))).userKey).toBeNull();
    expect(recordOf({ ...PAGE_VIEWS, subject: null }, JSON.stringify(view())).userKey).toBeNull();
  });

  it('masks an array of values, a value its type refuses (as it came), and a jsonb field whole', () => {
    const spec: PipelineSpec = {
      ...PAGE_VIEWS,
      columns: [...PAGE_VIEWS.columns, column('masked_prefs', 'prefs', { kind: 'jsonb' }, { pii: 'mask' })],
    };
    const record = recordOf(spec, JSON.stringify(view({ visitor: { id: 'V-1', email: ['a@x.example', 'b@x.example'] }, ip: 'not an ip', prefs: { b: 1, a: 'Alice' } })));
    expect(record.body!.maskedValues).toEqual({
      masked_email: [masker.mask('masked_email', 'a@x.example'), masker.mask('masked_email', 'b@x.example')],
      masked_ip: [masker.mask('masked_ip', 'not an ip')],
      // canonical JSON: keys sorted, as the row's mask is made
      masked_prefs: [masker.mask('masked_prefs', '{"a":"Alice","b":1}')],
    });
  });

  it('keeps nothing of a `seal` field, not even its mask: the table holds nothing to match it with', () => {
    const spec: PipelineSpec = { ...PAGE_VIEWS, columns: PAGE_VIEWS.columns.map((c) => (c.name === 'masked_email' ? { ...c, pii: 'seal' as const } : c)) };
    const record = recordOf(spec, JSON.stringify(view({ duration_ms: 'x' })));
    expect(Object.keys(record.body!.maskedValues)).toEqual(['masked_ip']);
    expect(JSON.stringify(record)).not.toContain('alice@example.com');
    expect(JSON.stringify(record)).not.toContain(masker.mask('masked_email', 'alice@example.com'));
  });

  it('reads text that is not JSON for the declared fields\' last keys, and shows only its length and classes', () => {
    const body = `{'visitor': {'id': 'V-CAROL-3', 'email': 'carol@example.com'}, "ip": "198.51.100.9"`;
    const record = reject(message(body), masker, 'not_json', null, null, Buffer.byteLength(body), undefined, PAGE_VIEWS);
    expect(record.body!.maskedValues).toEqual({ masked_email: [masker.mask('masked_email', 'carol@example.com')], masked_ip: [masker.mask('masked_ip', '198.51.100.9')] });
    expect(record.userKey).toBe(masker.subjectKey('page_views', 'V-CAROL-3'));
    expect(JSON.parse(record.body!.shape)).toMatchObject({ json: false, chars: body.length });
    for (const value of ['V-CAROL-3', 'carol@example.com', '198.51.100.9']) expect(JSON.stringify(record)).not.toContain(value);
  });

  it('reads the event inside an SNS envelope, and shows AWS\'s names besides the declared ones', () => {
    const envelope = JSON.stringify({
      Type: 'Notification',
      MessageId: '0f0e0d0c-0b0a-4909-8807-060504030201',
      TopicArn: 'arn:aws:sns:eu-west-1:123456789012:views',
      Message: JSON.stringify(view({ viewed_at: 3 })),
      Timestamp: '2026-01-01T10:00:00.000Z',
    });
    const record = recordOf(PAGE_VIEWS, envelope, 'bad_type', 'viewed_at');
    expect(record.userKey).toBe(masker.subjectKey('page_views', 'V-ALICE-1'));
    expect(record.body!.maskedValues.masked_email).toEqual([masker.mask('masked_email', 'alice@example.com')]);
    expect(pathsOf(record)).toEqual(expect.arrayContaining(['Type', 'Message', 'Message.visitor', 'Message.visitor.email', 'Message.tags.<8 chars>']));
    expect(JSON.stringify(record)).not.toContain('alice@example.com');
  });

  it('a label that is an Object property name stays a plain key', () => {
    const spec: PipelineSpec = { ...PAGE_VIEWS, columns: [column('__proto__', 'secret', { kind: 'text' }, { pii: 'mask' })] };
    const record = recordOf(spec, JSON.stringify({ secret: 'S3CRET' }));
    expect(Object.hasOwn(record.body!.maskedValues, '__proto__')).toBe(true);
    expect(JSON.parse(JSON.stringify(record.body!.maskedValues))).toEqual(JSON.parse(`{"__proto__": ["${masker.mask('__proto__', 'S3CRET')}"]}`));
  });
});

describe('the login pipeline\'s record is today\'s', () => {
  it.each([
    '{"user_id": "u-1", "ip": "203.0.113.7", "device_id": ["phone-of-dan"], "visitor": {"email": "dan@example.com"}}',
    'ip=203.0.113.7 "device_id": "phone-of-dan"',
  ])('with the builtin spec or none: %s', (body) => {
    const parsed = parseJson(body);
    const without = reject(message(body), masker, 'missing_field', 'app_version', null, Buffer.byteLength(body), parsed);
    const withSpec = reject(message(body), masker, 'missing_field', 'app_version', null, Buffer.byteLength(body), parsed, LOGINS);
    expect(withSpec).toEqual(without);
    expect(without.body!.maskedValues).toEqual({});
  });
});
