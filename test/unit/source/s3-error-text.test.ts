// What a log line keeps of S3's error text: never the pointer's bucket or key, as they are or as a
// URL spells them (a key is the sender's text and may name a user).
import { describe, expect, it } from 'vitest';
import { withoutPointer } from '../../../src/source/s3/payload-resolver.js';

const pointer = { bucket: 'payloads-of-u-42', key: 'users/u-42/logins é 1.json' };

describe('withoutPointer', () => {
  it.each([
    ['the key as it is', 'cannot serve users/u-42/logins é 1.json', 'cannot serve <key>'],
    ['a path-style URL', 'cannot serve /payloads-of-u-42/users/u-42/logins%20%C3%A9%201.json?x-id=GetObject', 'cannot serve /<bucket>/<key>?x-id=GetObject'],
    ['the key encoded whole', 'key=users%2Fu-42%2Flogins%20%C3%A9%201.json', 'key=<key>'],
    ['a virtual-hosted name', 'getaddrinfo ENOTFOUND payloads-of-u-42.s3.eu-west-1.amazonaws.com', 'getaddrinfo ENOTFOUND <bucket>.s3.eu-west-1.amazonaws.com'],
    ['text that names neither', 'We encountered an internal error. Please try again.', 'We encountered an internal error. Please try again.'],
  ])('%s', (_, text, expected) => {
    expect(withoutPointer(text, pointer)).toBe(expected);
    expect(withoutPointer(text, pointer)).not.toContain('u-42/');
  });
});
