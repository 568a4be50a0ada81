// A pipeline's transform: the login pipeline's rows in the sink's shape, their values in the
// order storedColumnsOf gives the builtin's columns; a declared pipeline's rows, masks and vault
// originals under their labels; the shared steps (size, JSON, envelope) refuse alike for both.
import { describe, expect, it } from 'vitest';
import { storedColumnsOf } from '../../../src/model/pipeline.js';
import type { InboundMessage, TableOutcome, TableRow } from '../../../src/model/message.js';
import { createMasker } from '../../../src/transform/mask.js';
import { messageToRow } from '../../../src/transform/message-to-row.js';
import { compileTransform, loginTableRow } from '../../../src/transform/pipeline-transform.js';
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
    expect(declared).toEqual(login);
    expect(declared).toMatchObject({ kind: 'rejected', rejection: { reason: 'too_large' } });
  });
});
