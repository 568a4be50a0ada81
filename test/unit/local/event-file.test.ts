// A user's file of events for demo --input and local --input: a JSON array or JSON Lines, read
// without ever quoting the file's content (it holds personal data) in an error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { parseEvents, readEventFile, SQS_MAX_BODY_BYTES } from '../../../src/local/event-file.js';

const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-events-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const EVENT = { user_id: 'u-1', app_version: '2.3.0', device_type: 'ios', ip: '198.51.100.7', locale: 'RU', device_id: '593-47-5928' };

function configError(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseEvents', () => {
  it('a JSON array: each element one body, as its JSON text', () => {
    const text = JSON.stringify([EVENT, { ...EVENT, locale: null }, 'not an object', 7], null, 2);
    expect(parseEvents(text)).toEqual({
      format: 'JSON array',
      bodies: [JSON.stringify(EVENT), JSON.stringify({ ...EVENT, locale: null }), '"not an object"', '7'],
    });
  });

  it('JSON Lines: each non-blank line one body, exactly as written, malformed ones too', () => {
    const lines = [JSON.stringify(EVENT), '', '  ', '{"foo": "oops_wrong_msg_type", "bar": "123"}', 'not json at all', '{"user_id": '];
    expect(parseEvents(lines.join('\r\n'))).toEqual({ format: 'JSON Lines', bodies: [lines[0], lines[3], lines[4], lines[5]] });
  });

  it('one JSON object alone is one line of JSON Lines', () => {
    expect(parseEvents(`${JSON.stringify(EVENT)}\n`)).toEqual({ format: 'JSON Lines', bodies: [JSON.stringify(EVENT)] });
  });

  it('refuses a file that starts like an array but is not JSON, saying where, not what', () => {
    const message = configError(() => parseEvents(`[${JSON.stringify(EVENT)},\n{"ip": "203.0.113.99",`, 'events.json'));
    expect(message).toMatch(/^--input events\.json starts like a JSON array but is not valid JSON \(position \d+\); fix it, or give one event per line \(JSON Lines\)$/);
    expect(message).not.toContain('203.0.113.99');
  });
});

describe('readEventFile', () => {
  it('reads either form, with a byte-order mark, and the largest body', () => {
    const read = readEventFile(file('bom.json', `\uFEFF${JSON.stringify([EVENT])}`));
    expect(read).toEqual({ format: 'JSON array', bodies: [JSON.stringify(EVENT)], largestBytes: Buffer.byteLength(JSON.stringify(EVENT)) });
  });

  it('says what is wrong with a file that is missing, empty, or holds a body SQS would refuse', () => {
    expect(configError(() => readEventFile(join(dir, 'missing.json')))).toContain('cannot read --input');
    expect(configError(() => readEventFile(join(dir, 'missing.json')))).toContain('ENOENT');
    expect(configError(() => readEventFile(file('empty.jsonl', '\n\n')))).toContain('holds no events');
    expect(configError(() => readEventFile(file('empty.json', '[]')))).toContain('holds no events');
    const control = configError(() => readEventFile(file('control.jsonl', `${JSON.stringify(EVENT)}\n{"user_id": "a\u0001b"}\n`)));
    expect(control).toMatch(/: event 2 holds U\+0001, a character SQS refuses in a message body/);
    // A file read as UTF-8 holds no lone surrogate, and JSON.stringify escapes one an array holds; U+FFFE it can.
    const nonCharacter = configError(() => readEventFile(file('noncharacter.json', `[${JSON.stringify(EVENT)}, "a\uFFFEb"]`)));
    expect(nonCharacter).toMatch(/: element 2 holds U\+FFFE, /);
    expect(() => readEventFile(file('fine.jsonl', `{"locale": "ÜÖ 日本 🙂\t"}\n`))).not.toThrow();
    const huge = configError(() => readEventFile(file('huge.jsonl', `${JSON.stringify(EVENT)}\n${'x'.repeat(SQS_MAX_BODY_BYTES + 1)}\n`)));
    expect(huge).toContain('event 2 is 1048577 bytes');
    expect(huge).not.toContain('xxxx');
  });
});
