// JSON read from its bytes, long strings decoded on their own: the same values as JSON.parse of the
// text, the same refusals, whatever the strings hold.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJsonBytes } from '../../../src/source/sqs/json-bytes.js';

/** JSON.parse's outcome for `text`, and parseJsonBytes's for its UTF-8 bytes (long from 8 bytes). */
function both(text: string): [unknown, unknown] {
  const outcome = (parse: () => unknown) => {
    try {
      return { value: parse() };
    } catch (error) {
      return { threw: (error as Error).name };
    }
  };
  return [outcome(() => JSON.parse(text)), outcome(() => parseJsonBytes(Buffer.from(text, 'utf8'), 8, 0))];
}

describe('parseJsonBytes', () => {
  it.each([
    ['plain ASCII', JSON.stringify({ Messages: [{ Body: 'x'.repeat(100), MessageId: 'm' }] })],
    ['escaped quotes and backslashes', JSON.stringify({ Body: '"\\'.repeat(40) + '\\"' })],
    ['a string ending in backslashes', JSON.stringify({ Body: 'abcdefgh\\\\', Next: 'ijklmnopq' })],
    ['\\u escapes and lone surrogates', '{"Body":"\\u003c\\u00e9\\ud83d\\ude00\\ud800 abcdefgh"}'],
    ['beyond Latin-1', JSON.stringify({ Body: '€😀'.repeat(20) })],
    ['a long key', JSON.stringify({ ['k'.repeat(50)]: 'v'.repeat(50) })],
    ['whitespace around a long key', '{ "kkkkkkkkkkkk" \n : "vvvvvvvvvvvvvv" }'],
    ['an object shaped like a marker', '{"a":{"\\u0000":0},"b":"long enough to replace"}'],
    ['long strings in arrays', JSON.stringify(['a'.repeat(9), ['b'.repeat(9), { c: 'c'.repeat(9) }]])],
    ['a raw control character', '{"Body":"abcdefgh\u0001ijkl"}'],
    ['a raw newline in a short string', '{"Body":"ab\ncd"}'],
    ['an unterminated string', '{"Body":"abcdefghijkl'],
    ['a long string then garbage', '{"Body":"abcdefghijkl" x}'],
    ['two values', '"abcdefghijkl" "abcdefghijkl"'],
    ['a bad escape', '{"Body":"abcdefgh\\q"}'],
    ['empty', ''],
  ])('%s: as JSON.parse', (_name, text) => {
    const [parsed, fromBytes] = both(text);
    expect(fromBytes).toEqual(parsed);
  });

  it('reads any JSON value as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        const [parsed, fromBytes] = both(text);
        expect(fromBytes).toEqual(parsed);
      }),
      { numRuns: 500 },
    );
  });

  it('reads any string, escaped or not, as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 5 }), (strings) => {
        const [parsed, fromBytes] = both(JSON.stringify({ Messages: strings.map((Body) => ({ Body })) }));
        expect(fromBytes).toEqual(parsed);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a 1 MiB body whole, not as a slice of the answer', () => {
    const body = '10.1.2.3 '.repeat(116_000);
    const value = parseJsonBytes(Buffer.from(JSON.stringify({ Messages: [{ Body: body }] }))) as { Messages: { Body: string }[] };
    expect(value.Messages[0]?.Body).toBe(body);
  });

  it('decodes a body of about 1 MiB, any characters, cut into pieces where no character is cut', () => {
    // Multi-byte characters (2, 3 and 4 bytes) straddle every 512 KiB cut, at some offset.
    for (const unit of ['é€😀', 'a€', '😀x']) {
      const body = unit.repeat(Math.ceil(1_040_000 / Buffer.byteLength(unit)));
      const [parsed, fromBytes] = both(JSON.stringify({ Messages: [{ Body: body }] }));
      expect(fromBytes).toEqual(parsed);
    }
  });

  it("holds a body just under 1 MiB on V8's heap, not outside it as Node 24 makes such a string", () => {
    // An external string's garbage waits for V8's external-memory trigger (64 MB), not the heap's rule.
    const answer = Buffer.from(JSON.stringify({ Messages: Array.from({ length: 10 }, (_, i) => ({ Body: String(i).repeat(1024 * 1024 - 1024) })) }));
    const before = process.memoryUsage().external;
    const value = parseJsonBytes(answer) as { Messages: { Body: string }[] };
    expect(process.memoryUsage().external - before).toBeLessThan(1024 * 1024);
    expect(value.Messages.map((message) => message.Body.length)).toEqual(Array.from({ length: 10 }, () => 1024 * 1024 - 1024));
  });
});
