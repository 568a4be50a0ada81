import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { isIP } from 'node:net';
import { canonicalIp } from '../../../src/transform/ip.js';

describe('canonicalIp', () => {
  it.each([
    // IPv4 is kept as it is
    ['1.2.3.4', '1.2.3.4'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['192.168.0.10', '192.168.0.10'],
    // IPv6: lower-case, zeros compressed (RFC 5952)
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['FE80:0:0:0:0:0:0:ABCD', 'fe80::abcd'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    // IPv4-mapped IPv6 is the IPv4 address it maps
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:1.2.3.4', '1.2.3.4'],
    ['::ffff:0102:0304', '1.2.3.4'],
    ['0:0:0:0:0:ffff:c0a8:000a', '192.168.0.10'],
    ['::ffff:255.255.255.255', '255.255.255.255'],
    // not mapped: only ::ffff:0:0/96 is
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
  ])('%j -> %j', (input, expected) => {
    expect(canonicalIp(input)).toBe(expected);
  });

  it.each([
    ['leading-zero octet', '01.2.3.4'],
    ['leading-zero last octet', '1.2.3.04'],
    ['octet out of range', '256.1.2.3'],
    ['octet far out of range', '999.1.2.3'],
    ['three octets', '1.2.3'],
    ['five octets', '1.2.3.4.5'],
    ['leading space', ' 1.2.3.4'],
    ['trailing space', '1.2.3.4 '],
    ['trailing newline', '1.2.3.4\n'],
    ['IPv6 trailing newline', '2001:db8::1\n'],
    ['IPv6 in brackets', '[2001:db8::1]'],
    ['zone id', 'fe80::1%eth0'],
    ['numeric zone id', 'fe80::1%1'],
    ['mapped with zone id', '::ffff:1.2.3.4%eth0'],
    ['two ::', '1::2::3'],
    ['nine groups', '1:2:3:4:5:6:7:8:9'],
    ['group too long', '12345::1'],
    ['not hex', '2001:db8::g'],
    ['empty', ''],
    ['word', 'hello'],
    ['hostname', 'localhost'],
    ['hex IPv4', '0x7f.0.0.1'],
    ['integer IPv4', '16909060'],
    ['with port', '1.2.3.4:80'],
    ['CIDR', '10.0.0.0/8'],
  ])('refuses %s (%j)', (_name, input) => {
    expect(canonicalIp(input)).toBeNull();
  });

  it('accepts every IPv4 address and keeps it unchanged', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(canonicalIp(ip)).toBe(ip);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts every IPv6 address and gives a valid address', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const canonical = canonicalIp(ip);
        expect(canonical).not.toBeNull();
        expect(isIP(canonical ?? '')).not.toBe(0);
        expect(canonical).toBe(canonical?.toLowerCase());
      }),
      { numRuns: 200 },
    );
  });

  it('is idempotent: the canonical form of a canonical form is itself', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (ip) => {
        const canonical = canonicalIp(ip);
        expect(canonical).not.toBeNull();
        expect(canonicalIp(canonical ?? '')).toBe(canonical);
      }),
      { numRuns: 200 },
    );
  });

  it('gives equal canonical forms for upper- and lower-case spellings of one IPv6 address', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        expect(canonicalIp(ip.toUpperCase())).toBe(canonicalIp(ip));
      }),
      { numRuns: 200 },
    );
  });

  it('maps every IPv4 written as an IPv4-mapped IPv6 address back to itself', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
        const hex = (high: number, low: number) => ((high << 8) | low).toString(16).padStart(4, '0');
        expect(canonicalIp(`::ffff:${ip}`)).toBe(ip);
        expect(canonicalIp(`::FFFF:${ip}`)).toBe(ip);
        expect(canonicalIp(`0:0:0:0:0:ffff:${hex(a, b)}:${hex(c, d)}`)).toBe(ip);
      }),
      { numRuns: 200 },
    );
  });
});
