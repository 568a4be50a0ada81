// Key hygiene: exactly 32 random bytes as 64 hex digits or canonical base64; passphrases, patterns
// and anything ambiguous refused in one line that never shows the text; keygen's keys pass.
import { describe, expect, it } from 'vitest';
import { decodeKey, freshKey, lowEntropy } from '../../../src/config/key.js';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { generateVaultKeyPair } from '../../../src/vault/sealed-box.js';

const GOOD_HEX = 'ecfa96dd3f29bc244460689c0b9ccc3042fa97318679104bbe50bb0a90c805ce';

describe('decodeKey', () => {
  it('takes 64 hex digits and canonical base64 of 32 random bytes', () => {
    expect((decodeKey(GOOD_HEX) as Buffer).toString('hex')).toBe(GOOD_HEX);
    const b64 = Buffer.from(GOOD_HEX, 'hex').toString('base64');
    expect((decodeKey(`${b64}\n`) as Buffer).toString('hex')).toBe(GOOD_HEX);
    for (let i = 0; i < 200; i++) expect(decodeKey(freshKey())).toBeInstanceOf(Buffer);
    for (let i = 0; i < 50; i++) {
      const pair = generateVaultKeyPair();
      expect(decodeKey(pair.publicKey.toString('base64'))).toBeInstanceOf(Buffer);
      expect(decodeKey(pair.privateKey.toString('hex'))).toBeInstanceOf(Buffer);
    }
  });

  it.each([
    ['a passphrase that happens to be base64 letters', 'thisismysupersecretpasswordforthemaskingkey'],
    ['the same passphrase padded to canonical length', 'thisismysupersecretpasswordforthemaskingkeyA='.slice(0, 44)],
    ['64 zeros', '0'.repeat(64)],
    ['a repeated pattern', 'ab'.repeat(32)],
    ['a repeated word', 'passwordpasswordpasswordpasswordpasswordpass'],
    ['an odd-length hex string', GOOD_HEX.slice(1)],
    ['a hex string one byte short', GOOD_HEX.slice(2)],
    ['a hex string one byte long', `${GOOD_HEX}ab`],
    ['48 random bytes in base64', Buffer.concat([Buffer.from(GOOD_HEX, 'hex'), Buffer.from(GOOD_HEX, 'hex').subarray(0, 16)]).toString('base64')],
    ['non-canonical base64', Buffer.from(GOOD_HEX, 'hex').toString('base64').replace(/=$/, '')],
    ['base64url', Buffer.from(GOOD_HEX, 'hex').toString('base64url')],
    ['a sentence', 'my mask key is a secret'],
    ['printable text as hex', Buffer.from('0123456789abcdefghijklmnopqrstuv').toString('hex')],
  ])('refuses %s', (_name, text) => {
    const reason = decodeKey(text);
    expect(typeof reason).toBe('string');
    expect(reason).not.toContain(text.trim());
  });

  it('calls low entropy what no random generator gives', () => {
    expect(lowEntropy(Buffer.alloc(32))).toContain('distinct bytes');
    expect(lowEntropy(Buffer.from('The quick brown fox jumps over!!'))).toContain('printable text');
    expect(lowEntropy(Buffer.from(GOOD_HEX, 'hex'))).toBeUndefined();
  });
});

describe('key settings', () => {
  it.each([
    ['SQS2PG_MASK_KEY', 'thisismysupersecretpasswordforthemaskingkey'],
    ['SQS2PG_MASK_KEY', '0'.repeat(64)],
    ['SQS2PG_MASK_KEY_FILE', 'pNJC/2i7fR9pNJC/2i7fR9pNJC/2i7fR9pNJC/2i7fR9='],
    ['SQS2PG_VAULT_PUBLIC_KEY_FILE', 'pNJC/2i7fR9pNJC/2i7fR9pNJC/2i7fR9pNJC/2i7fR9='],
  ])('%s: refused at start in one line that never shows the value', (name, value) => {
    try {
      loadConfig('run', [], { [name]: value });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as ConfigError).message;
      expect(message).toContain(name);
      expect(message).not.toMatch(/[\r\n]/);
      expect(message).not.toContain(value);
      expect(message).not.toContain(value.slice(0, 8));
    }
  });
});
