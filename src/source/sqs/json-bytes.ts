// JSON read straight from its bytes, for answers of up to ten 1 MiB bodies: each long string is
// decoded on its own from the bytes, the small rest (ids, handles, attributes) by JSON.parse. The
// answer is never one string: that string (up to 10 MiB, twice that beyond Latin-1) would be garbage
// as soon as parsed, and V8 frees such large strings only at its next full collection.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** `{"\u0000": i}` stands for long string i in the skeleton JSON.parse reads */
const MARKER_KEY = '\u0000';
/** the key as JSON writes it, the only way it can be written: where an answer holds it, no marker is used */
const MARKER_KEY_JSON = Buffer.from('"\\u0000"');

/** Strings of at least this many bytes are decoded on their own. */
export const LONG_STRING_BYTES = 4096;
/**
 * A smaller answer is parsed whole: its string is small garbage, and scanning it costs more than
 * that (a ten-message answer of small bodies, the common case, goes at JSON.parse's own speed).
 */
export const SCAN_FROM_BYTES = 256 * 1024;

/** Parses `bytes` (UTF-8 JSON) as JSON.parse parses their text, throwing a SyntaxError where it would. */
export function parseJsonBytes(bytes: Uint8Array, longStringBytes = LONG_STRING_BYTES, scanFromBytes = SCAN_FROM_BYTES): unknown {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < scanFromBytes || buffer.includes(MARKER_KEY_JSON)) return JSON.parse(buffer.toString('utf8'));
  const long: string[] = [];
  const skeleton: Buffer[] = [];
  let copiedTo = 0;
  for (let open = buffer.indexOf(QUOTE); open !== -1; ) {
    const close = closingQuote(buffer, open + 1);
    // Unterminated: JSON.parse of the whole says so, in its own words.
    if (close === -1) break;
    if (close - open - 1 >= longStringBytes && !isKey(buffer, close + 1)) {
      skeleton.push(buffer.subarray(copiedTo, open), Buffer.from(`{"\\u0000":${long.length}}`));
      long.push(decodeString(buffer, open, close));
      copiedTo = close + 1;
    }
    open = buffer.indexOf(QUOTE, close + 1);
  }
  if (long.length === 0) return JSON.parse(buffer.toString('utf8'));
  skeleton.push(buffer.subarray(copiedTo));
  return JSON.parse(Buffer.concat(skeleton).toString('utf8'), (_key, value: unknown) => {
    const index = markerIndex(value);
    return index === undefined ? value : long[index];
  });
}

/** A string followed by a colon is an object's key: left to JSON.parse, where a marker could not stand. */
function isKey(bytes: Buffer, from: number): boolean {
  let at = from;
  while (bytes[at] === 0x20 || bytes[at] === 0x0a || bytes[at] === 0x0d || bytes[at] === 0x09) at++;
  return bytes[at] === 0x3a;
}

/** The index of the closing quote of a string whose content starts at `from`; -1 when there is none. */
function closingQuote(bytes: Buffer, from: number): number {
  for (let at = bytes.indexOf(QUOTE, from); at !== -1; at = bytes.indexOf(QUOTE, at + 1)) {
    // Escaped when an odd number of backslashes precede it. Each run is walked once: linear.
    let slashes = 0;
    while (at - 1 - slashes >= from && bytes[at - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return at;
  }
  return -1;
}

// Characters JSON forbids unescaped inside a string: where one is, JSON.parse of the string throws.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f]/;

/** The string between the quotes at `open` and `close`, decoded as JSON.parse decodes it. */
function decodeString(bytes: Buffer, open: number, close: number): string {
  const backslash = bytes.indexOf(BACKSLASH, open + 1);
  if (backslash === -1 || backslash > close) {
    const text = close - open - 1 >= EXTERNAL_FROM_BYTES ? heapDecoded(bytes, open + 1, close) : bytes.toString('utf8', open + 1, close);
    if (!CONTROL.test(text)) return text;
  }
  return JSON.parse(bytes.toString('utf8', open, close + 1)) as string;
}

/**
 * Node (24, not 20) makes a string decoded from this many bytes of ASCII or more (its EXTERN_APEX) an
 * external string: its characters outside V8's heap, freed only when V8 collects for external
 * memory, 64 MB past its last collection, rather than by the heap's growth rule, which run tightens
 * while the byte budget is heavy (v8-options.ts). Bodies just under SQS's 1 MiB are that long.
 */
const EXTERNAL_FROM_BYTES = 0xfbee9;
/** decoded pieces of at most this many bytes are heap strings */
const PIECE_BYTES = 512 * 1024;

/**
 * bytes[from, to) as one string on V8's heap: decoded in pieces short of EXTERNAL_FROM_BYTES (each cut
 * before a UTF-8 lead byte), joined; V8 makes the whole one flat string at its first read (CONTROL's
 * test), the pieces its garbage.
 */
function heapDecoded(bytes: Buffer, from: number, to: number): string {
  let text = '';
  for (let at = from; at < to; ) {
    let end = Math.min(to, at + PIECE_BYTES);
    while (end < to && ((bytes[end] as number) & 0xc0) === 0x80) end++;
    text += bytes.toString('utf8', at, end);
    at = end;
  }
  return text;
}

function markerIndex(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== MARKER_KEY) return undefined;
  const index = (value as Record<string, unknown>)[MARKER_KEY];
  return typeof index === 'number' && Number.isInteger(index) && index >= 0 ? index : undefined;
}
