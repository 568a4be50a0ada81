// A user's own events for the embedded queue (demo --input, local --input): a JSON array, each
// element one message body, or JSON Lines, each line one body exactly as written, so a malformed
// line reaches the pipeline and is quarantined as a malformed message would be. Nothing of the
// file's content is ever echoed in an error: it holds personal data.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { SQS_MAX_BODY_BYTES } from '../model/message.js';

export { SQS_MAX_BODY_BYTES };

// The characters SQS takes in a message body (its SendMessage documentation): tab, newline, carriage
// return, and U+0020 upwards, without lone surrogates, U+FFFE or U+FFFF. A queue never delivers others.
const NOT_SQS_TEXT = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export interface EventFile {
  bodies: string[];
  format: 'JSON array' | 'JSON Lines';
  /** the largest body, in UTF-8 bytes */
  largestBytes: number;
}

export function readEventFile(path: string): EventFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`cannot read --input ${path} (${code}); give a file of events: a JSON array or JSON Lines`);
  }
  const events = parseEvents(text.replace(/^\uFEFF/, ''), path);
  if (events.bodies.length === 0) throw new ConfigError(`--input ${path} holds no events; give a JSON array of events, or one event per line (JSON Lines)`);
  let largestBytes = 0;
  events.bodies.forEach((body, index) => {
    const where = events.format === 'JSON array' ? `element ${index + 1}` : `event ${index + 1}`;
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > SQS_MAX_BODY_BYTES) {
      throw new ConfigError(`--input ${path}: ${where} is ${bytes} bytes, and SQS takes bodies of at most ${SQS_MAX_BODY_BYTES} bytes (1 MiB); leave it out`);
    }
    const refused = NOT_SQS_TEXT.exec(body)?.[0];
    if (refused !== undefined) {
      const code = `U+${refused.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      throw new ConfigError(`--input ${path}: ${where} holds ${code}, a character SQS refuses in a message body (no queue can deliver it); leave it out`);
    }
    largestBytes = Math.max(largestBytes, bytes);
  });
  return { ...events, largestBytes };
}

/** Pure: the bodies a file's text holds. */
export function parseEvents(text: string, path = 'the file'): Omit<EventFile, 'largestBytes'> {
  if (text.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      // Node says where ("at position 1234"); the rest of its message may quote the file.
      const at = /position \d+/.exec(error instanceof Error ? error.message : '')?.[0];
      throw new ConfigError(`--input ${path} starts like a JSON array but is not valid JSON${at ? ` (${at})` : ''}; fix it, or give one event per line (JSON Lines)`);
    }
    if (Array.isArray(parsed)) return { bodies: parsed.map((element) => JSON.stringify(element)), format: 'JSON array' };
  }
  return { bodies: text.split(/\r?\n/).filter((line) => line.trim() !== ''), format: 'JSON Lines' };
}
