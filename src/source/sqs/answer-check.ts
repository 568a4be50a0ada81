// Recognises an answer in the other SQS protocol (XML to a JSON request, JSON to a query one) or
// no SQS answer at all (an HTML page) before the SDK tries to parse it and fails obscurely
// ("Unexpected token '<'"), so the protocol can be switched or the failure explained.
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SqsProtocol } from './sqs-api.js';

export type AnswerFormat = 'json' | 'xml' | 'html';

/** What the endpoint answered, in terms that are safe to log: no request data, bounded length. */
export interface ForeignAnswer {
  status: number;
  format: AnswerFormat;
  /** the error code the answer names, if any (XML <Code>, JSON __type) */
  code: string | undefined;
  message: string | undefined;
}

export class ForeignAnswerError extends Error {
  readonly code = 'ForeignAnswer';
  constructor(
    readonly expected: SqsProtocol,
    readonly answer: ForeignAnswer,
  ) {
    super(`a ${expected === 'json' ? 'JSON' : 'query-protocol'} request got ${describeAnswer(answer)}`);
    this.name = 'ForeignAnswerError';
  }
}

// Enough of a body to tell its format and find an error code; SQS error answers are short.
const SNIFF_CHARS = 4096;
const MESSAGE_MAX_CHARS = 120;

/** The format of a body by its first characters, whatever its content-type claims (old LocalStack sends XML as x-amz-json-1.0). */
export function sniffFormat(body: string): AnswerFormat | undefined {
  const start = body.trimStart().slice(0, 16).toLowerCase();
  if (start.startsWith('<!doctype html') || start.startsWith('<html')) return 'html';
  if (start.startsWith('<')) return 'xml';
  if (start.startsWith('{')) return 'json';
  return undefined;
}

/**
 * The answer, when it is not in the protocol `expected`; undefined when it is, or when it is
 * nothing recognisable (an empty 500, a plain-text 503), which the SDK handles as usual.
 */
export function foreignAnswer(expected: SqsProtocol, status: number, body: string): ForeignAnswer | undefined {
  const text = body.slice(0, SNIFF_CHARS);
  const format = sniffFormat(text);
  if (format === undefined || format === (expected === 'json' ? 'json' : 'xml')) return undefined;
  if (format === 'xml') {
    return { status, format, code: oneLine(xmlElement(text, 'Code')), message: oneLine(xmlElement(text, 'Message')) };
  }
  if (format === 'json') {
    const type = /"__type"\s*:\s*"([^"]{1,200})"/.exec(text)?.[1];
    const message = /"[mM]essage"\s*:\s*"((?:[^"\\]|\\.)*)/.exec(text)?.[1];
    return { status, format, code: oneLine(type?.replace(/^.*#/, '')), message: oneLine(message) };
  }
  return { status, format, code: undefined, message: undefined };
}

/** e.g. `XML (HTTP 500, InternalError: Operation detection failed…)` */
export function describeAnswer(answer: ForeignAnswer): string {
  const what = { json: 'JSON', xml: 'XML', html: 'an HTML page' }[answer.format];
  const detail = [answer.code, answer.message].filter(Boolean).join(': ');
  return `${what} (HTTP ${answer.status}${detail ? `, ${detail}` : ''})`;
}

/**
 * Makes `client` throw ForeignAnswerError for an answer in the wrong format, while `active()`.
 * Only answers that are not a success in the expected content-type are read ahead, so the
 * normal path costs nothing.
 */
export function installAnswerCheck(client: SQSClient, expected: SqsProtocol, active: () => boolean): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      if (!active()) return result;
      const response = result.response as RawResponse;
      const status = response.statusCode ?? 0;
      const contentType = String(response.headers?.['content-type'] ?? '');
      const expectedType = expected === 'json' ? /json/i : /xml/i;
      if (status >= 200 && status < 300 && expectedType.test(contentType)) return result;
      const body = await readAll(response.body);
      // The SDK reads the body next: hand it the bytes instead of the drained stream.
      response.body = body;
      const answer = foreignAnswer(expected, status, body.toString('utf8', 0, SNIFF_CHARS));
      if (answer !== undefined) throw new ForeignAnswerError(expected, answer);
      return result;
    },
    // In the deserialize step after the SDK's own deserializer, so it sees the raw answer first.
    { step: 'deserialize', name: 'sqs2pgAnswerCheck', priority: 'low' },
  );
}

interface RawResponse {
  statusCode?: number;
  headers?: Record<string, string | undefined>;
  body?: unknown;
}

async function readAll(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (typeof body === 'string') return Buffer.from(body);
  const chunks: Buffer[] = [];
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

function xmlElement(xml: string, name: string): string | undefined {
  // No closing tag needed: a long message may run past the sniffed window.
  const raw = new RegExp(`<${name}>([^<]+)`).exec(xml)?.[1];
  return raw
    ?.replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function oneLine(text: string | undefined): string | undefined {
  const line = text?.replace(/\s+/g, ' ').trim();
  if (!line) return undefined;
  return line.length > MESSAGE_MAX_CHARS ? `${line.slice(0, MESSAGE_MAX_CHARS - 1)}…` : line;
}
