import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createMasker } from '../../../src/transform/mask.js';
import { messageToRow, messageToVaultedRow } from '../../../src/transform/message-to-row.js';
import type { InboundMessage, LoginRow, Outcome, Rejection } from '../../../src/model/message.js';

const masker = createMasker(Buffer.alloc(32, 7), 'k1');
const SENT_AT = Date.UTC(2024, 0, 15, 12, 0, 0);
const EVENT = {
  user_id: '424cdd21-063a-43a7-b91b-7ca1a833afae',
  app_version: '2.3.0',
  device_type: 'android',
  ip: '199.172.111.135',
  locale: 'RU',
  device_id: '593-47-5928',
};

function message(body: string, sentAtMs = SENT_AT): InboundMessage {
  return { messageId: 'msg-1', body, sentAtMs, receiveCount: 3 };
}

function rowOf(outcome: Outcome): LoginRow {
  if (outcome.kind !== 'row') throw new Error(`expected a row, got ${JSON.stringify(outcome)}`);
  return outcome.row;
}

function rejectionOf(outcome: Outcome): Rejection {
  if (outcome.kind !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(outcome)}`);
  return outcome.rejection;
}

describe('messageToRow, valid messages', () => {
  it('gives the row with ip and device_id masked', () => {
    const outcome = messageToRow(message(JSON.stringify(EVENT)), masker);
    expect(outcome).toEqual({
      kind: 'row',
      row: {
        messageId: 'msg-1',
        userId: EVENT.user_id,
        userKey: masker.userKey(EVENT.user_id),
        deviceType: 'android',
        maskedIp: masker.mask('ip', '199.172.111.135'),
        maskedDeviceId: masker.mask('device_id', '593-47-5928'),
        locale: 'RU',
        appVersion: 2_003_000,
        appVersionRaw: '2.3.0',
        createDate: '2024-01-15',
        sentAtMs: SENT_AT,
      },
    });
    const text = JSON.stringify(outcome);
    expect(text).not.toContain('199.172.111.135');
    expect(text).not.toContain('593-47-5928');
  });

  it.each([
    ['2.3.0', 2_003_000],
    ['0.96', 96_000],
    ['7', 7_000_000],
    ['999.999.999', 999_999_999],
  ])('keeps app_version %j both as text and as %d', (raw, int) => {
    const row = rowOf(messageToRow(message(JSON.stringify({ ...EVENT, app_version: raw })), masker));
    expect([row.appVersion, row.appVersionRaw]).toEqual([int, raw]);
  });

  it('keeps a null locale null', () => {
    expect(rowOf(messageToRow(message(JSON.stringify({ ...EVENT, locale: null })), masker)).locale).toBeNull();
  });

  it.each([
    ['the epoch', 0, '1970-01-01'],
    ['the last millisecond before midnight UTC', Date.UTC(2024, 1, 29, 23, 59, 59, 999), '2024-02-29'],
    ['midnight UTC', Date.UTC(2024, 2, 1, 0, 0, 0, 0), '2024-03-01'],
    ['the last millisecond of a year', Date.UTC(2023, 11, 31, 23, 59, 59, 999), '2023-12-31'],
  ])('takes createDate as the UTC date of SentTimestamp: %s', (_name, sentAtMs, date) => {
    expect(rowOf(messageToRow(message(JSON.stringify(EVENT), sentAtMs), masker)).createDate).toBe(date);
  });

  it('gives every timestamp in a run its own UTC date, whatever came before it (the last day is remembered)', () => {
    const day = 86_400_000;
    const instant = fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.integer({ min: -3, max: 3 }).map((n) => 1_700_000_000_000 + n * day - 1 + (n & 1)));
    fc.assert(
      fc.property(fc.array(instant, { minLength: 1, maxLength: 20 }), (instants) => {
        for (const sentAtMs of instants) {
          expect(rowOf(messageToRow(message(JSON.stringify(EVENT), sentAtMs), masker)).createDate).toBe(new Date(sentAtMs).toISOString().slice(0, 10));
        }
      }),
    );
  });

  it('gives one mask to every spelling of one IPv6 address', () => {
    const masks = ['2001:db8::1', '2001:DB8::1', '2001:DB8:0:0:0:0:0:1', '2001:0db8:0000:0000:0000:0000:0000:0001'].map(
      (ip) => rowOf(messageToRow(message(JSON.stringify({ ...EVENT, ip })), masker)).maskedIp,
    );
    expect(new Set(masks)).toEqual(new Set([masker.mask('ip', '2001:db8::1')]));
  });

  it('gives an IPv4-mapped address the mask of its IPv4 address', () => {
    const masks = ['1.2.3.4', '::ffff:1.2.3.4', '::FFFF:1.2.3.4', '::ffff:0102:0304'].map(
      (ip) => rowOf(messageToRow(message(JSON.stringify({ ...EVENT, ip })), masker)).maskedIp,
    );
    expect(new Set(masks)).toEqual(new Set([masker.mask('ip', '1.2.3.4')]));
  });

  it('gives different addresses different masks', () => {
    const a = rowOf(messageToRow(message(JSON.stringify({ ...EVENT, ip: '1.2.3.4' })), masker)).maskedIp;
    const b = rowOf(messageToRow(message(JSON.stringify({ ...EVENT, ip: '1.2.3.5' })), masker)).maskedIp;
    expect(a).not.toBe(b);
  });
});

describe('messageToRow, rejected messages', () => {
  it('keeps messageId, receiveCount and sentAtMs, and describes the body without its values', () => {
    const body = JSON.stringify({ ...EVENT, app_version: 'v1-beta' });
    const rejection = rejectionOf(messageToRow(message(body, 1_700_000_000_123), masker));
    expect(rejection).toEqual({
      messageId: 'msg-1',
      reason: 'bad_app_version',
      field: 'app_version',
      detail: null,
      receiveCount: 3,
      sentAtMs: 1_700_000_000_123,
      userKey: masker.userKey(EVENT.user_id),
      body: {
        bytes: Buffer.byteLength(body),
        hash: masker.bodyHash(body),
        shape: expect.any(String) as string,
        maskedIps: [masker.mask('ip', '199.172.111.135')],
        maskedDeviceIds: [masker.mask('device_id', '593-47-5928')],
        // a declared pipeline's masks by label: none for logins, whose masks have columns of their own
        maskedValues: {},
      },
    });
    const shape = JSON.parse(rejection.body!.shape) as { json: boolean; entries: { path: string; type: string; length: number }[] };
    expect(shape.json).toBe(true);
    expect(shape.entries).toContainEqual({ path: 'app_version', type: 'string', length: 7 });
    expect(shape.entries).toContainEqual({ path: 'ip', type: 'string', length: 15 });
    expect(rejection.body!.shape).not.toContain('v1-beta');
  });

  it.each([
    ['bad ip', JSON.stringify({ ...EVENT, ip: '999.1.2.3', device_id: '593-47-5928' }), 'bad_ip', ['999.1.2.3', '593-47-5928']],
    ['truncated JSON', JSON.stringify(EVENT).slice(0, -12), 'not_json', ['199.172.111.135', '593-47-5928']],
    ['an ip under another key', JSON.stringify({ user_id: 'u', addr: '199.172.111.135' }), 'missing_field', ['199.172.111.135']],
    ['a missing field', JSON.stringify({ ...EVENT, user_id: undefined }), 'missing_field', ['199.172.111.135', '593-47-5928']],
    ['an over-long device_type', JSON.stringify({ ...EVENT, device_type: 'x'.repeat(33) }), 'too_long', ['199.172.111.135', '593-47-5928']],
  ] as const)('leaves no raw ip or device_id in a rejection: %s', (_name, body, reason, secrets) => {
    const outcome = messageToRow(message(body), masker);
    expect(rejectionOf(outcome).reason).toBe(reason);
    const text = JSON.stringify(outcome);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });

  it('rejects the take-home malformed body as missing user_id and keeps the length of its keys, not their text', () => {
    const rejection = rejectionOf(messageToRow(message('{"foo": "oops_wrong_msg_type", "bar": "123"}'), masker));
    expect([rejection.reason, rejection.field]).toEqual(['missing_field', 'user_id']);
    // Keys other than the login event's field names are text a sender chose: their length only.
    expect(JSON.parse(rejection.body!.shape)).toEqual({
      json: true,
      entries: [
        { path: '$', type: 'object', length: 2 },
        { path: '<3 chars>', type: 'string', length: 19 },
        { path: '<3 chars>', type: 'string', length: 3 },
      ],
      truncated: false,
    });
    expect(rejection.userKey).toBeNull();
  });

  it('rejects a body too large for any event before parsing it', () => {
    const body = JSON.stringify({ ...EVENT, pad: 'x'.repeat(70_000) });
    const rejection = rejectionOf(messageToRow(message(body), masker));
    expect(rejection.reason).toBe('too_large');
    expect(JSON.parse(rejection.body!.shape)).toMatchObject({ json: false, chars: body.length });
    // Its head is still read for keyed values, so forget finds it by the user's key.
    expect(rejection.userKey).toBe(masker.userKey(EVENT.user_id));
  });
});

describe('messageToRow size limit', () => {
  const sized = (bytes: number) => {
    const empty = JSON.stringify({ ...EVENT, extra: '' });
    return JSON.stringify({ ...EVENT, extra: 'é'.repeat((bytes - Buffer.byteLength(empty)) / 2) });
  };

  it('reads a body of exactly maxBodyBytes as an event, and quarantines one byte more unparsed', () => {
    const limit = 900_002;
    const atLimit = sized(limit);
    expect(Buffer.byteLength(atLimit)).toBe(limit);
    expect(rowOf(messageToRow(message(atLimit), masker, { maxBodyBytes: limit })).userId).toBe(EVENT.user_id);
    const over = rejectionOf(messageToRow(message(`${atLimit} `), masker, { maxBodyBytes: limit }));
    expect(over.reason).toBe('too_large');
    expect(JSON.parse(over.body!.shape)).toMatchObject({ json: false });
  });

  it('quarantines a large body built to make parsing costly as too_large, unparsed, saying why', () => {
    const limits = { maxBodyBytes: 1_048_576 };
    const deep = rejectionOf(messageToRow(message(JSON.stringify(EVENT).replace(/}$/, `,"extra":${'['.repeat(500_000)}${']'.repeat(500_000)}}`)), masker, limits));
    expect([deep.reason, deep.detail]).toEqual(['too_large', 'nested deeper than 64']);
    const many = rejectionOf(messageToRow(message(JSON.stringify({ ...EVENT, extra: Array.from({ length: 40_000 }, () => ({})) })), masker, limits));
    expect([many.reason, many.detail]).toEqual(['too_large', 'more than 10000 objects and arrays']);
    // Brackets inside strings are text, and a wide flat blob is fine.
    const flat = JSON.stringify({ ...EVENT, extra: '['.repeat(100_000), values: Array.from({ length: 20_000 }, (_, i) => i) });
    expect(rowOf(messageToRow(message(flat), masker, limits)).userId).toBe(EVENT.user_id);
  });

  it('does not parse a too_large body even when it is under the default limit', () => {
    const rejection = rejectionOf(messageToRow(message(sized(2_000)), masker, { maxBodyBytes: 1_024 }));
    expect(rejection.reason).toBe('too_large');
    expect(JSON.parse(rejection.body!.shape)).toMatchObject({ json: false });
  });
});

describe('messageToRow properties', () => {
  const event = fc.record({
    user_id: fc.uuid(),
    app_version: fc.tuple(fc.nat(999), fc.nat(999), fc.nat(999)).map((parts) => parts.join('.')),
    device_type: fc.constantFrom('android', 'ios'),
    ip: fc.ipV4(),
    locale: fc.option(fc.constantFrom('RU', 'PH', 'US')),
    device_id: fc.stringMatching(/^\d{3}-\d{2}-\d{4}$/),
  });
  type Breakage = { kind: 'none' | 'bad app_version' | 'bad ip key' } | { kind: 'truncated'; cut: number };
  const breakage: fc.Arbitrary<Breakage> = fc.oneof(
    fc.constantFrom<Breakage>({ kind: 'none' }, { kind: 'bad app_version' }, { kind: 'bad ip key' }),
    fc.record({ kind: fc.constant('truncated' as const), cut: fc.integer({ min: 1, max: 60 }) }),
  );

  function bodyOf(e: Record<string, unknown>, broken: Breakage): string {
    switch (broken.kind) {
      case 'none':
        return JSON.stringify(e);
      case 'bad app_version':
        return JSON.stringify({ ...e, app_version: 'x' });
      case 'bad ip key':
        return JSON.stringify({ ...e, ip: undefined, IP: e.ip });
      case 'truncated':
        return JSON.stringify(e).slice(0, -broken.cut);
    }
  }

  it('never puts the raw ip or device_id in the outcome, valid or broken', () => {
    fc.assert(
      fc.property(event, breakage, fc.integer({ min: 0, max: 4_102_444_800_000 }), (e, broken, sentAtMs) => {
        const outcome = messageToRow(message(bodyOf(e, broken), sentAtMs), masker);
        expect(outcome.kind).toBe(broken.kind === 'none' ? 'row' : 'rejected');
        const text = JSON.stringify(outcome);
        expect(text).not.toContain(e.ip);
        expect(text).not.toContain(e.device_id);
      }),
      { numRuns: 200 },
    );
  });

  it('gives every valid event a row whose masks match the masker', () => {
    fc.assert(
      fc.property(event, (e) => {
        const row = rowOf(messageToRow(message(JSON.stringify(e)), masker));
        expect(row.maskedIp).toBe(masker.mask('ip', e.ip));
        expect(row.maskedDeviceId).toBe(masker.mask('device_id', e.device_id));
        expect([row.userId, row.deviceType, row.locale, row.appVersionRaw]).toEqual([
          e.user_id,
          e.device_type,
          e.locale,
          e.app_version,
        ]);
      }),
      { numRuns: 200 },
    );
  });

  it('never throws, whatever the body', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (body) => {
        const outcome = messageToRow(message(body), masker);
        expect(['row', 'rejected']).toContain(outcome.kind);
      }),
      { numRuns: 200 },
    );
  });
});

describe('messageToVaultedRow', () => {
  it('gives the same outcome as messageToRow, and apart from it the value behind each mask', () => {
    const body = JSON.stringify({ ...EVENT, ip: '2001:DB8:0:0:0:0:0:1' });
    const { outcome, originals } = messageToVaultedRow(message(body), masker);
    expect(outcome).toEqual(messageToRow(message(body), masker));
    const row = rowOf(outcome);
    // The canonical ip: what was masked is what the vault keeps.
    expect(originals).toEqual([
      { mask: row.maskedIp, field: 'ip', value: '2001:db8::1' },
      { mask: row.maskedDeviceId, field: 'device_id', value: '593-47-5928' },
    ]);
  });

  it('gives no originals for a rejected message, whose body is only ever kept masked', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (body) => {
        const { outcome, originals } = messageToVaultedRow(message(body), masker);
        if (outcome.kind === 'rejected') expect(originals).toEqual([]);
        else expect(originals).toHaveLength(2);
      }),
      { numRuns: 200 },
    );
  });
});
