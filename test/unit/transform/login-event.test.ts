import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { appVersionToInt } from '../../../src/transform/app-version.js';
import { canonicalIp } from '../../../src/transform/ip.js';
import { DEVICE_ID_MAX_CHARS, parseLoginEvent, type LoginEvent } from '../../../src/transform/login-event.js';
import { rejectReasons } from '../../../src/model/message.js';

const EVENT = {
  user_id: '424cdd21-063a-43a7-b91b-7ca1a833afae',
  app_version: '2.3.0',
  device_type: 'android',
  ip: '199.172.111.135',
  locale: 'RU',
  device_id: '593-47-5928',
};
const TAKE_HOME_MALFORMED = '{"foo": "oops_wrong_msg_type", "bar": "123"}';

/** What parseLoginEvent gives for an event it accepts: its fields unchanged, the ip's canonical form, the version's number. */
function accepted(event: LoginEvent) {
  return { ok: true, event, canonicalIp: canonicalIp(event.ip), appVersion: appVersionToInt(event.app_version) };
}

/** The take-home event with some fields replaced (undefined drops the field). */
function body(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...EVENT, ...overrides });
}

function without(field: keyof typeof EVENT): string {
  const copy: Record<string, unknown> = { ...EVENT };
  delete copy[field];
  return JSON.stringify(copy);
}

describe('parseLoginEvent refuses', () => {
  it.each([
    // not_json
    ['plain text', 'not json', 'not_json', null],
    ['empty string', '', 'not_json', null],
    ['truncated JSON', body().slice(0, -10), 'not_json', null],
    ['only a byte-order mark', '\uFEFF', 'not_json', null],
    ['raw tab inside a string', body({ user_id: 'a' }).replace('"a"', '"a\tb"'), 'not_json', null],
    ['single quotes', "{'user_id': 'u'}", 'not_json', null],
    // not_object
    ['array', JSON.stringify([EVENT]), 'not_object', null],
    ['number', '42', 'not_object', null],
    ['string', '"{\\"user_id\\": \\"u\\"}"', 'not_object', null],
    ['null', 'null', 'not_object', null],
    ['boolean', 'true', 'not_object', null],
    // missing_field, one for every field
    ['no user_id', without('user_id'), 'missing_field', 'user_id'],
    ['no device_type', without('device_type'), 'missing_field', 'device_type'],
    ['no ip', without('ip'), 'missing_field', 'ip'],
    ['no device_id', without('device_id'), 'missing_field', 'device_id'],
    ['no app_version', without('app_version'), 'missing_field', 'app_version'],
    ['no locale', without('locale'), 'missing_field', 'locale'],
    ['null user_id', body({ user_id: null }), 'missing_field', 'user_id'],
    ['null ip', body({ ip: null }), 'missing_field', 'ip'],
    ['null device_id', body({ device_id: null }), 'missing_field', 'device_id'],
    ['empty object', '{}', 'missing_field', 'user_id'],
    ['the take-home malformed body', TAKE_HOME_MALFORMED, 'missing_field', 'user_id'],
    // bad_type
    ['number device_type', body({ device_type: 1 }), 'bad_type', 'device_type'],
    ['object ip', body({ ip: { v4: '1.2.3.4' } }), 'bad_type', 'ip'],
    ['number app_version', body({ app_version: 2.3 }), 'bad_type', 'app_version'],
    ['boolean user_id', body({ user_id: true }), 'bad_type', 'user_id'],
    ['array device_id', body({ device_id: ['593-47-5928'] }), 'bad_type', 'device_id'],
    ['number locale', body({ locale: 7 }), 'bad_type', 'locale'],
    // too_long
    ['129-char user_id', body({ user_id: 'u'.repeat(129) }), 'too_long', 'user_id'],
    ['129 characters above U+FFFF in user_id', body({ user_id: '\u{1F600}'.repeat(129) }), 'too_long', 'user_id'],
    ['33-char device_type', body({ device_type: 'd'.repeat(33) }), 'too_long', 'device_type'],
    ['33-char locale', body({ locale: 'l'.repeat(33) }), 'too_long', 'locale'],
    ['65-char ip', body({ ip: '1'.repeat(65) }), 'too_long', 'ip'],
    ['over-long device_id', body({ device_id: '9'.repeat(DEVICE_ID_MAX_CHARS + 1) }), 'too_long', 'device_id'],
    ['33-char app_version', body({ app_version: '1'.repeat(33) }), 'too_long', 'app_version'],
    // bad_char
    ['NUL in user_id (JSON escape)', body({ user_id: 'u' }).replace('"u"', '"a\\u0000b"'), 'bad_char', 'user_id'],
    ['lone high surrogate in user_id', body({ user_id: 'u' }).replace('"u"', '"a\\ud800b"'), 'bad_char', 'user_id'],
    ['lone low surrogate in locale', body({ locale: 'l' }).replace('"l"', '"\\udc00"'), 'bad_char', 'locale'],
    ['BEL control char in device_type', body({ device_type: 'and\u0007roid' }), 'bad_char', 'device_type'],
    ['escaped newline in device_id', body({ device_id: '593-47-5928\n' }), 'bad_char', 'device_id'],
    ['DEL in locale', body({ locale: 'R\u007fU' }), 'bad_char', 'locale'],
    // bad_ip
    ['IPv4 octet out of range', body({ ip: '999.1.2.3' }), 'bad_ip', 'ip'],
    ['word as ip', body({ ip: 'hello' }), 'bad_ip', 'ip'],
    ['empty ip', body({ ip: '' }), 'bad_ip', 'ip'],
    ['ip with zone id', body({ ip: 'fe80::1%eth0' }), 'bad_ip', 'ip'],
    ['ip with a space', body({ ip: ' 1.2.3.4' }), 'bad_ip', 'ip'],
    // bad_app_version
    ['pre-release app_version', body({ app_version: 'v1-beta' }), 'bad_app_version', 'app_version'],
    ['four-part app_version', body({ app_version: '1.2.3.4' }), 'bad_app_version', 'app_version'],
    ['empty app_version', body({ app_version: '' }), 'bad_app_version', 'app_version'],
  ] as const)('%s', (_name, input, reason, field) => {
    expect(parseLoginEvent(input)).toEqual({ ok: false, reason, field });
  });

  it.each([
    ['missing beats bad type', body({ user_id: 1, locale: undefined }), 'missing_field', 'locale'],
    ['bad char beats bad type', body({ user_id: 1, locale: '\u0001' }), 'bad_char', 'locale'],
    ['earlier field first', body({ user_id: 'u'.repeat(129), ip: 'hello' }), 'too_long', 'user_id'],
    ['earlier field first, whatever the key order', JSON.stringify({ ip: 'hello', app_version: 'x', device_type: 5, user_id: 'u', device_id: 'd', locale: null }), 'bad_type', 'device_type'],
    ['ip before app_version', body({ ip: 'hello', app_version: 'x' }), 'bad_ip', 'ip'],
  ] as const)('reports one reason when several apply: %s', (_name, input, reason, field) => {
    expect(parseLoginEvent(input)).toEqual({ ok: false, reason, field });
  });
});

describe('parseLoginEvent accepts', () => {
  it.each([
    ['the take-home shape', body(), EVENT],
    ['a null locale', body({ locale: null }), { ...EVENT, locale: null }],
    ['an IPv6 ip, unchanged', body({ ip: '2001:DB8::1' }), { ...EVENT, ip: '2001:DB8::1' }],
    ['a leading byte-order mark', `\uFEFF${body()}`, EVENT],
    ['surrounding whitespace', `\n  ${body()}  \n`, EVENT],
    ['limits exactly', body({ user_id: 'u'.repeat(128), device_type: 'd'.repeat(32), locale: 'l'.repeat(32) }),
      { ...EVENT, user_id: 'u'.repeat(128), device_type: 'd'.repeat(32), locale: 'l'.repeat(32) }],
    ['non-ASCII text', body({ user_id: 'ünïcödé 🙂', locale: 'zh-Hant' }), { ...EVENT, user_id: 'ünïcödé 🙂', locale: 'zh-Hant' }],
    // varchar(128) counts characters: 128 emoji are 256 UTF-16 units and fit
    ['128 characters above U+FFFF', body({ user_id: '\u{1F600}'.repeat(128) }), { ...EVENT, user_id: '\u{1F600}'.repeat(128) }],
    ['empty user_id and device_type', body({ user_id: '', device_type: '' }), { ...EVENT, user_id: '', device_type: '' }],
  ])('%s', (_name, input, event) => {
    expect(parseLoginEvent(input)).toEqual(accepted(event));
  });

  it('gives the canonical ip and the version as a number, the fields unchanged', () => {
    const result = parseLoginEvent(body({ ip: '::FFFF:C0A8:0101', app_version: '10.2' }));
    expect(result).toEqual({ ok: true, event: { ...EVENT, ip: '::FFFF:C0A8:0101', app_version: '10.2' }, canonicalIp: '192.168.1.1', appVersion: 10_002_000 });
  });

  it('ignores and drops extra fields', () => {
    expect(parseLoginEvent(body({ extra: 1, nested: { ip: 'x' }, device_model: 'Pixel 8' }))).toEqual(accepted(EVENT));
  });

  it('takes the last of duplicate keys, as JSON.parse does', () => {
    const input = `{"user_id":"first","ip":"hello",${body().slice(1)}`;
    expect(parseLoginEvent(input)).toEqual(accepted(EVENT));
    const lastBad = `${body().slice(0, -1)},"ip":"hello"}`;
    expect(parseLoginEvent(lastBad)).toEqual({ ok: false, reason: 'bad_ip', field: 'ip' });
  });

  it('does not read fields from a __proto__ key', () => {
    const input = `{"__proto__": ${body()}}`;
    expect(parseLoginEvent(input)).toEqual({ ok: false, reason: 'missing_field', field: 'user_id' });
  });
});

describe('parseLoginEvent properties', () => {
  // Any UTF-16 code unit (NUL and lone surrogates included), often a JSON token; cheaper than unit: 'binary'.
  const codeUnit = fc.oneof(
    fc.nat(0xffff).map((code) => String.fromCharCode(code)),
    fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\\', 'u', '0', ' ', '\uFEFF'),
  );
  const expectTotal = (input: string) => {
    const result = parseLoginEvent(input);
    if (result.ok) {
      expect(Object.keys(result.event).sort()).toEqual(Object.keys(EVENT).sort());
    } else {
      expect(rejectReasons).toContain(result.reason);
      expect(result.reason).not.toBe('db_rejected');
      expect(result.field === null || Object.keys(EVENT).includes(result.field)).toBe(true);
    }
  };

  it('never throws for any string and always gives a known reason', () => {
    fc.assert(fc.property(fc.string({ unit: codeUnit }), expectTotal), { numRuns: 200 });
  });

  it('never throws for any JSON text and always gives a known reason', () => {
    fc.assert(fc.property(fc.json(), expectTotal), { numRuns: 200 });
  });

  it('never throws for objects with every field set to any JSON value', () => {
    const anyValue = fc.oneof(fc.jsonValue(), fc.string({ unit: codeUnit, maxLength: 40 }));
    const record = fc.record({
      user_id: anyValue,
      device_type: anyValue,
      ip: anyValue,
      device_id: anyValue,
      app_version: anyValue,
      locale: anyValue,
    });
    fc.assert(fc.property(record, (r) => expectTotal(JSON.stringify(r))), { numRuns: 200 });
  });

  it('accepts every well-formed event and returns its fields unchanged', () => {
    const event = fc.record({
      user_id: fc.uuid(),
      app_version: fc.tuple(fc.nat(999), fc.nat(999), fc.nat(999)).map((parts) => parts.join('.')),
      device_type: fc.constantFrom('android', 'ios'),
      ip: fc.oneof(fc.ipV4(), fc.ipV6()),
      locale: fc.option(fc.stringMatching(/^[A-Z]{2}$/)),
      device_id: fc.stringMatching(/^\d{3}-\d{2}-\d{4}$/),
    });
    fc.assert(
      fc.property(event, (e) => {
        expect(parseLoginEvent(JSON.stringify(e))).toEqual(accepted(e));
      }),
      { numRuns: 200 },
    );
  });
});
