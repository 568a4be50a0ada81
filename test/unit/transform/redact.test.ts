import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createMasker } from '../../../src/transform/mask.js';
import { redactBody } from '../../../src/transform/redact.js';

const masker = createMasker(Buffer.alloc(32, 7), 'k1');
const ip = (value: string) => masker.mask('ip', value);
const dev = (value: string) => masker.mask('device_id', value);

/** Every string in a parsed JSON value, keys included. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  if (Array.isArray(value)) return value.flatMap(strings);
  return Object.entries(value).flatMap(([key, item]) => [key, ...strings(item)]);
}

function expectStorable(output: string): void {
  expect(output).not.toContain('\u0000');
  expect(output.isWellFormed()).toBe(true);
}

describe('redactBody, JSON bodies', () => {
  it.each([
    [
      'the take-home shape: ip and device_id masked, the rest kept',
      '{"user_id":"u-1","app_version":"2.3.0","device_type":"ios","ip":"199.172.111.135","locale":"RU","device_id":"593-47-5928"}',
      { user_id: 'u-1', app_version: '2.3.0', device_type: 'ios', ip: ip('199.172.111.135'), locale: 'RU', device_id: dev('593-47-5928') },
    ],
    ['keys in any case', '{"IP":"1.2.3.4","Device_ID":"abc","DEVICE_ID":"x"}', { IP: ip('1.2.3.4'), Device_ID: dev('abc'), DEVICE_ID: dev('x') }],
    ['nested objects and arrays', '{"a":{"b":[{"ip":"1.2.3.4"},{"c":{"device_id":"d-1"}}]}}', { a: { b: [{ ip: ip('1.2.3.4') }, { c: { device_id: dev('d-1') } }] } }],
    ['an ip masked as its canonical form', '{"ip":"::FFFF:1.2.3.4","x":{"ip":"2001:DB8:0:0:0:0:0:1"}}', { ip: ip('1.2.3.4'), x: { ip: ip('2001:db8::1') } }],
    ['an ip that is not an address', '{"ip":"not an ip"}', { ip: ip('not an ip') }],
    ['a number device_id', '{"device_id":593475928}', { device_id: dev('593475928') }],
    ['a boolean ip', '{"ip":true}', { ip: ip('true') }],
    ['an array ip', '{"ip":["1.2.3.4","5.6.7.8"]}', { ip: ip('["1.2.3.4","5.6.7.8"]') }],
    ['an object device_id', '{"device_id":{"id":"593-47-5928"}}', { device_id: dev('{"id":"593-47-5928"}') }],
    ['a null ip kept null', '{"ip":null,"device_id":null}', { ip: null, device_id: null }],
    [
      'other keys kept, whatever their type',
      '{"user_id":"u","n":12345,"f":1.5,"b":false,"z":null,"list":[1,"two",{"three":3}],"ipv":"1.2.3","ip_address_count":2}',
      { user_id: 'u', n: 12345, f: 1.5, b: false, z: null, list: [1, 'two', { three: 3 }], ipv: '1.2.3', ip_address_count: 2 },
    ],
    [
      'addresses and device ids inside other values',
      '{"note":"login from 1.2.3.4 and 2001:db8::1 on 593-47-5928","list":["10.0.0.1"]}',
      { note: `login from ${ip('1.2.3.4')} and ${ip('2001:db8::1')} on ${dev('593-47-5928')}`, list: [ip('10.0.0.1')] },
    ],
    ['a top-level string', '"from 1.2.3.4"', `from ${ip('1.2.3.4')}`],
    ['a top-level array', '[{"ip":"1.2.3.4"},"593-47-5928"]', [{ ip: ip('1.2.3.4') }, dev('593-47-5928')]],
    ['a top-level number', '42', 42],
    ['a leading byte-order mark', '\uFEFF{"ip":"1.2.3.4","a":1}', { ip: ip('1.2.3.4'), a: 1 }],
    ['the take-home malformed body', '{"foo": "oops_wrong_msg_type", "bar": "123"}', { foo: 'oops_wrong_msg_type', bar: '123' }],
  ])('%s', (_name, input, expected) => {
    const output = redactBody(input, masker);
    expect(JSON.parse(output)).toEqual(expected);
  });

  it('replaces NUL and lone surrogates in values', () => {
    const output = redactBody('{"user_id":"a\\u0000b","locale":"\\ud800x","n":["\\udc00"]}', masker);
    expectStorable(output);
    expect(JSON.parse(output)).toEqual({ user_id: 'a\uFFFDb', locale: '\uFFFDx', n: ['\uFFFD'] });
  });

  it('survives a deeply nested body', () => {
    const deep = `${'['.repeat(200)}"1.2.3.4"${']'.repeat(200)}`;
    const output = redactBody(deep, masker);
    expect(output).not.toContain('1.2.3.4');
    expect(output).toContain('[too deep]');
  });

  // Keys are sender-chosen text: an address, a device id, a NUL or a lone surrogate there is scrubbed too.
  it('masks addresses and device ids in keys, and leaves no NUL or lone surrogate in them', () => {
    const output = redactBody('{"1.2.3.4":"x","593-47-5928":1,"a\\u0000":"b","\\ud800":2}', masker);
    expect(output).not.toContain('1.2.3.4');
    expect(output).not.toContain('593-47-5928');
    const all = strings(JSON.parse(output));
    expect(all.filter((s) => s.includes('\u0000') || !s.isWellFormed())).toEqual([]);
  });
});

describe('redactBody, text bodies', () => {
  it.each([
    ['an IPv4 address', 'ip=1.2.3.4 ok', `ip=${ip('1.2.3.4')} ok`],
    ['IPv4 at both ends', '1.2.3.4,5.6.7.8', `${ip('1.2.3.4')},${ip('5.6.7.8')}`],
    ['an IPv6 address, masked as its canonical form', 'from 2001:DB8:0:0:0:0:0:1 ok', `from ${ip('2001:db8::1')} ok`],
    ['a compressed IPv6 address', '[::1]:443', `[${ip('::1')}]:443`],
    ['an IPv6 address with a zone id', 'fe80::1%eth0', `${ip('fe80::1')}%eth0`],
    ['a device id', 'device 593-47-5928;', `device ${dev('593-47-5928')};`],
    ['a truncated take-home body', '{"ip":"199.172.111.135","device_id":"593-47-5928","app', `{"ip":"${ip('199.172.111.135')}","device_id":"${dev('593-47-5928')}","app`],
    ['a semantic version', 'version 1.2.3', 'version 1.2.3'],
    ['a date', 'on 2024-01-01', 'on 2024-01-01'],
    ['a plain number', 'n=12345', 'n=12345'],
    ['a time of day', 'at 12:30:45', 'at 12:30:45'],
    ['a MAC address', 'aa:bb:cc:dd:ee:ff', 'aa:bb:cc:dd:ee:ff'],
    ['an octet out of range', '999.1.2.3', '999.1.2.3'],
    ['a longer dotted number', '1.2.3.4.5', '1.2.3.4.5'],
    ['a phone-like number with other grouping', '5934-75-928 and 1593-47-59281', '5934-75-928 and 1593-47-59281'],
    ['empty text', '', ''],
  ])('%s', (_name, input, expected) => {
    expect(redactBody(input, masker)).toBe(expected);
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', 'a\udc00b'],
    ['NUL next to an address', '\u00001.2.3.4\u0000'],
  ])('leaves no %s in the output', (_name, input) => {
    expectStorable(redactBody(input, masker));
  });

  it('keeps well-formed surrogate pairs', () => {
    expect(redactBody('hi 🙂', masker)).toBe('hi 🙂');
  });

  // Regression: an IPv4 tail (::ffff:1.2.3.4) and the eight-colon forms must be masked whole.
  it.each([
    ['x ::ffff:1.2.3.4 y', `x ${ip('1.2.3.4')} y`],
    ['x ::FFFF:10.20.30.40 y', `x ${ip('10.20.30.40')} y`],
    ['x ::1.2.3.4 y', `x ${ip('::102:304')} y`],
    ['x ::0.0.0.0 y', `x ${ip('::')} y`],
    ['x 2001:db8::ffff:1.2.3.4 y', `x ${ip('2001:db8::ffff:102:304')} y`],
    ['x ::2:3:4:5:6:7:8 y', `x ${ip('0:2:3:4:5:6:7:8')} y`],
    ['x 1:2:3:4:5:6:7:: y', `x ${ip('1:2:3:4:5:6:7:0')} y`],
  ])('masks the whole IPv6 address in %j', (input, expected) => {
    expect(redactBody(input, masker)).toBe(expected);
  });

  // Regression: an address at the end of a sentence is still an address.
  it('masks an IPv4 address at the end of a sentence', () => {
    expect(redactBody('login from 1.2.3.4.', masker)).toBe(`login from ${ip('1.2.3.4')}.`);
  });

  it('masks any IPv4 address anywhere in text', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.constantFrom(' ', ',', '"', '=', '(', ''), (address, sep) => {
        const close = sep === '(' ? ')' : sep;
        expect(redactBody(`from${sep}${address}${close}ok`, masker)).toBe(`from${sep}${ip(address)}${close}ok`);
      }),
      { numRuns: 200 },
    );
  });

  it('masks any IPv6 address in text as its canonical form', () => {
    const hexV6 = fc.ipV6();
    fc.assert(
      fc.property(hexV6, fc.boolean(), (address, upper) => {
        const written = upper ? address.toUpperCase() : address;
        const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
        expect(redactBody(`from ${written} ok`, masker)).toBe(`from ${ip(canonical)} ok`);
      }),
      { numRuns: 200 },
    );
  });

  it('masks any device id in text', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{3}-\d{2}-\d{4}$/), (id) => {
        expect(redactBody(`device ${id}.`, masker)).toBe(`device ${dev(id)}.`);
      }),
      { numRuns: 200 },
    );
  });

  it('always gives text PostgreSQL can store', () => {
    const unit = fc.oneof(fc.nat(0xffff).map((code) => String.fromCharCode(code)), fc.constantFrom('{', '"', ':', '.', '1'));
    fc.assert(
      fc.property(fc.string({ unit }), (input) => {
        expectStorable(redactBody(input, masker));
      }),
      { numRuns: 200 },
    );
  });
});

describe('redactBody, keyed values in text that is not JSON', () => {
  it.each([
    ['a truncated body', '{"user_id":"t","device_id":"tablet-7f3a9c","ip":"999.0.2.11","app_ver', ['tablet-7f3a9c', '999.0.2.11']],
    ['a value cut off mid-way', '{"user_id":"t","device_id":"123-45-67', ['123-45-67']],
    ['a bare value', '{"ip": not-an-ip, "device_id": dev42}', ['not-an-ip', 'dev42']],
    ['an escaped quote inside', '{"IP":"a\\"b","x":1', ['a\\"b']],
  ])('masks whatever follows an ip or device_id key: %s', (_name, body, secrets) => {
    const output = redactBody(body, masker);
    for (const secret of secrets) expect(output).not.toContain(secret);
    expect(output).toMatch(/k1:[0-9a-f]{64}/);
  });

  it('masks an ip or device_id nested deeper than the stack allows, without throwing', () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const output = redactBody(`{"user_id":"x","ip":${deep}}`, masker);
    expect(JSON.parse(output)).toEqual({ user_id: 'x', ip: ip('[unserialisable]') });
  });
});
