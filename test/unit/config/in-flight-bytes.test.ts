// --max-in-flight-bytes when not given: smaller where answers are counted as they arrive.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { COUNTED_IN_FLIGHT_BYTES, inFlightBytesOf, RESERVED_IN_FLIGHT_BYTES, reservingInFlightBytesOf } from '../../../src/config/in-flight-bytes.js';

describe('inFlightBytesOf', () => {
  it.each([
    ['count on the lean client (the default client)', { answerBytes: 'count' }, COUNTED_IN_FLIGHT_BYTES],
    ['count on the JSON protocol, said', { answerBytes: 'count', sqsClient: 'lean', sqsProtocol: 'json' }, COUNTED_IN_FLIGHT_BYTES],
    ['reserve', { answerBytes: 'reserve', sqsClient: 'lean' }, RESERVED_IN_FLIGHT_BYTES],
    ['the SDK client, which always reserves', { answerBytes: 'count', sqsClient: 'sdk' }, RESERVED_IN_FLIGHT_BYTES],
    ['the query protocol, on the SDK client', { answerBytes: 'count', sqsProtocol: 'query' }, RESERVED_IN_FLIGHT_BYTES],
    ["the operator's own, whatever else", { answerBytes: 'count', maxInFlightBytes: 1 << 20 }, 1 << 20],
  ] as const)('%s', (_name, settings, bytes) => {
    expect(inFlightBytesOf(settings)).toBe(bytes);
  });

  it('is 16 MiB for run with the defaults (count), 48 MiB with --answer-bytes reserve or the SDK client, as the flag says otherwise', () => {
    const env = { SQS_QUEUE_URL: 'http://127.0.0.1:1/000000000000/q', DATABASE_URL: 'postgres://x@127.0.0.1/x', SQS2PG_MASK_KEY: '5e0d7c2a91f4b3e8d6a7c1f09b2e4d3a8c7f6e5d4b3a29180f1e2d3c4b5a6978' };
    expect(loadConfig('run', [], env).config.answerBytes).toBe('count');
    expect(inFlightBytesOf(loadConfig('run', [], env).config)).toBe(16 * 1024 * 1024);
    expect(inFlightBytesOf(loadConfig('run', ['--answer-bytes', 'reserve'], env).config)).toBe(48 * 1024 * 1024);
    expect(inFlightBytesOf(loadConfig('run', ['--sqs-client', 'sdk'], env).config)).toBe(48 * 1024 * 1024);
    expect(inFlightBytesOf(loadConfig('run', ['--answer-bytes', 'count', '--max-in-flight-bytes', '20000000'], env).config)).toBe(20_000_000);
  });

  it("is reserve's 48 MiB, or the operator's own, where auto finds answers it must reserve for", () => {
    expect(reservingInFlightBytesOf({ answerBytes: 'count', sqsProtocol: 'auto' })).toBe(RESERVED_IN_FLIGHT_BYTES);
    expect(reservingInFlightBytesOf({ answerBytes: 'count', maxInFlightBytes: 1 << 20 })).toBe(1 << 20);
  });
});
