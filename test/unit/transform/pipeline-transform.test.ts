// A pipeline's transform: the login pipeline's rows in the sink's shape, their values in the
// order storedColumnsOf gives the builtin's columns; a declared pipeline's rows, masks and vault
// originals under their labels; the shared steps (size, JSON, envelope) refuse alike for both.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { storedColumnsOf } from '../../../src/model/pipeline.js';
import type { InboundMessage, TableOutcome, TableRow } from '../../../src/model/message.js';
import { createMasker } from '../../../src/transform/mask.js';
import { messageToRow, messageToVaultedRow } from '../../../src/transform/message-to-row.js';
import { loginTableRow } from '../../../src/transform/login-table-row.js';
import { compileTransform } from '../../../src/transform/pipeline-transform.js';
import { LOGINS, PAGE_VIEWS } from '../../fixtures/pipelines.js';

const masker = createMasker(Buffer.alloc(32, 7), 'k1');
const SENT_AT = Date.UTC(2024, 0, 15, 12, 0, 0);
const LOGIN = { user_id: 'u-1', app_version: '2.3.0', device_type: 'android', ip: '199.172.111.135', locale: null, device_id: '593-47-5928' };
const VIEW = {
  visitor: { id: 'v-1', email: 'alice@example.com' },
  ip: '2001:DB8::1',
  page: { url: 'https://example.com/a' },
  duration_ms: 1200,
  viewed_at: '2024-05-01T10:00:00Z',
  tags: ['a'],
};
const OPTIONS = { envelope: 'none', maxBodyBytes: 1024 * 1024 } as const;

function message(body: unknown, messageId = 'm-1'): InboundMessage {
  return { messageId, body: typeof body === 'string' ? body : JSON.stringify(body), sentAtMs: SENT_AT, receiveCount: 1 };
}

function rowOf(outcome: TableOutcome): TableRow {
  if (outcome.kind !== 'row') throw new Error(`expected a row, got ${JSON.stringify(outcome)}`);
  return outcome.row;
}

describe('the login pipeline', () => {
  it("gives messageToRow's row with its values in the order of the builtin's stored columns", () => {
    const login = messageToRow(message(LOGIN), masker);
    if (login.kind !== 'row') throw new Error('expected a row');
    const row = loginTableRow(login.row);
    const byColumn = Object.fromEntries(storedColumnsOf(LOGINS).map((column, i) => [column.name, row.values[i]]));
    expect(byColumn).toEqual({
      user_id: 'u-1',
      device_type: 'android',
      masked_ip: masker.mask('ip', '199.172.111.135'),
      masked_device_id: masker.mask('device_id', '593-47-5928'),
      app_version: String(login.row.appVersion),
      app_version_raw: '2.3.0',
      locale: null,
      create_date: '2024-01-15',
    });
    expect(row.values).toHaveLength(storedColumnsOf(LOGINS).length);
    expect(row.subjectKey).toBe(masker.userKey('u-1'));
    expect(row.masks).toEqual([byColumn.masked_ip, byColumn.masked_device_id]);
  });

  it('keeps the originals only with the vault on', () => {
    const off = compileTransform(LOGINS, masker, { ...OPTIONS, vault: false }).read(message(LOGIN));
    const on = compileTransform(LOGINS, masker, { ...OPTIONS, vault: true }).read(message(LOGIN));
    expect(off.originals).toBeUndefined();
    expect(on.outcome).toEqual(off.outcome);
    expect(on.originals?.map((o) => o.field)).toEqual(['ip', 'device_id']);
  });
});

// Differential: the pipeline reads the login event straight into the sink's shape
// (readLoginTableRow), messageToRow into a LoginRow; for any body, under any envelope setting, the
// two give the same row (in the sink's shape), the same refusal and the same originals.
describe('the login pipeline against messageToRow', () => {
  const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('2.3.0', '1.2', 'android', 'ios', '', ' '));
  const value = fc.oneof(text, fc.ipV4(), fc.ipV6(), fc.constant(null), fc.integer(), fc.boolean(), fc.constant({}));
  const event = fc.record(
    { user_id: value, device_type: value, ip: fc.oneof(fc.ipV4(), fc.ipV6(), value), device_id: value, app_version: value, locale: value, extra: value },
    { requiredKeys: [] },
  );
  const valid = fc.record({
    user_id: fc.string({ minLength: 1, maxLength: 20 }),
    device_type: fc.constantFrom('android', 'ios'),
    ip: fc.oneof(fc.ipV4(), fc.ipV6()),
    device_id: fc.string({ minLength: 1, maxLength: 20 }),
    app_version: fc.constantFrom('2.3.0', '1.2', '0.0.1', '10'),
    locale: fc.constantFrom(null, 'RU', 'en-US'),
  });
  const snsWrapped = (inner: string) =>
    JSON.stringify({
      Type: 'Notification',
      MessageId: '5b8e5c8a-8f3e-5e8c-9d6f-1a2b3c4d5e6f',
      TopicArn: 'arn:aws:sns:us-east-1:000000000000:logins',
      Message: inner,
      Timestamp: '2026-03-04T23:59:58.123Z',
    });
  const body = fc
    .oneof(valid.map((e) => JSON.stringify(e)), event.map((e) => JSON.stringify(e)), fc.json(), fc.string({ maxLength: 60 }))
    .chain((inner) => fc.constantFrom(inner, snsWrapped(inner), `\uFEFF${inner}`));
  const settings = fc.record({ envelope: fc.constantFrom('none', 'auto', 'sns', 'eventbridge'), maxBodyBytes: fc.constantFrom(1024 * 1024, 200) });

  it('gives the same outcome and originals for any body, vault on and off', () => {
    fc.assert(
      fc.property(body, settings, fc.integer({ min: 0, max: 4_102_444_800_000 }), (text, { envelope, maxBodyBytes }, sentAtMs) => {
        const inbound: InboundMessage = { messageId: 'm-1', body: text, sentAtMs, receiveCount: 2 };
        const expected = messageToVaultedRow(inbound, masker, { envelope, maxBodyBytes });
        const outcome: TableOutcome = expected.outcome.kind === 'row' ? { kind: 'row', row: loginTableRow(expected.outcome.row) } : expected.outcome;
        const options = { envelope, maxBodyBytes };
        expect(compileTransform(LOGINS, masker, { ...options, vault: false }).read(inbound)).toEqual({ outcome });
        expect(compileTransform(LOGINS, masker, { ...options, vault: true }).read(inbound)).toEqual({ outcome, originals: expected.originals });
        // A body read under another envelope setting than the pipeline's (an S3 payload an SNS Notification pointed to).
        const other = compileTransform(LOGINS, masker, { ...options, envelope: 'none', vault: false }).read(inbound, envelope);
        expect(other).toEqual({ outcome });
      }),
      { numRuns: 400 },
    );
  });
});

describe('a declared pipeline', () => {
  it('masks under each column label, keys the subject by the table, and vaults the canonical values', () => {
    const { outcome, originals } = compileTransform(PAGE_VIEWS, masker, { ...OPTIONS, vault: true }).read(message(VIEW));
    const row = rowOf(outcome);
    const byColumn = Object.fromEntries(storedColumnsOf(PAGE_VIEWS).map((column, i) => [column.name, row.values[i]]));
    const email = masker.mask('masked_email', 'alice@example.com');
    const ip = masker.mask('masked_ip', '2001:db8::1');
    expect(byColumn).toEqual({
      visitor_id: 'v-1',
      masked_email: email,
      masked_ip: ip,
      url: 'https://example.com/a',
      duration_ms: '1200',
      viewed_at: '2024-05-01T10:00:00Z',
      tags: '["a"]',
    });
    expect(row.subjectKey).toBe(masker.subjectKey('page_views', 'v-1'));
    expect(row.masks).toEqual([email, ip]);
    expect(originals).toEqual([
      { mask: email, field: 'masked_email', value: 'alice@example.com' },
      { mask: ip, field: 'masked_ip', value: '2001:db8::1' },
    ]);
  });

  it('without the vault: no originals, and no masks kept for vault entries that will not be written', () => {
    const { outcome, originals } = compileTransform(PAGE_VIEWS, masker, { ...OPTIONS, vault: false }).read(message(VIEW));
    expect(originals).toBeUndefined();
    expect(rowOf(outcome).masks).toEqual([]);
  });

  it.each([
    ['a body that is not JSON', 'not json', 'not_json', null],
    ['a required field missing', { ...VIEW, page: {} }, 'missing_field', 'page.url'],
    ['a bad address', { ...VIEW, ip: 'nowhere' }, 'bad_ip', 'ip'],
  ])('refuses %s into a quarantine record with nothing in clear', (_what, body, reason, field) => {
    const { outcome } = compileTransform(PAGE_VIEWS, masker, { ...OPTIONS, vault: true }).read(message(body));
    if (outcome.kind !== 'rejected') throw new Error('expected a rejection');
    expect(outcome.rejection).toMatchObject({ messageId: 'm-1', reason, field });
    expect(JSON.stringify(outcome.rejection)).not.toMatch(/alice@example\.com|nowhere|2001:DB8/i);
  });

  it('refuses a body over the limit before reading it, as the login pipeline does', () => {
    const small = { ...OPTIONS, maxBodyBytes: 10, vault: false };
    const declared = compileTransform(PAGE_VIEWS, masker, small).read(message(VIEW)).outcome;
    const login = compileTransform(LOGINS, masker, small).read(message(VIEW)).outcome;
    expect(declared).toMatchObject({ kind: 'rejected', rejection: { reason: 'too_large' } });
    expect(login).toMatchObject({ kind: 'rejected', rejection: { reason: 'too_large' } });
    // Each record by its own pipeline's rules: the page view's masks by its labels, the login's by ip.
    expect(declared.kind === 'rejected' && declared.rejection.body?.maskedValues).toEqual({
      masked_email: [masker.mask('masked_email', 'alice@example.com')],
      masked_ip: [expect.stringMatching(/^k1:[0-9a-f]{64}$/)],
    });
    expect(login.kind === 'rejected' && login.rejection.body?.maskedValues).toEqual({});
  });
});
