// Telling an answer in the other SQS protocol from a normal one, and saying what it was.
import { describe, expect, it } from 'vitest';
import { describeAnswer, foreignAnswer, sniffFormat } from '../../../src/source/sqs/answer-check.js';

// LocalStack before 3.0, asked in JSON (its answer, as issue reports quote it).
const OLD_LOCALSTACK = `<?xml version='1.0' encoding='utf-8'?>
<ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Code>InternalError</Code><Message>exception while calling sqs with unknown operation: Operation detection failed. Missing Action in request for query-protocol service ServiceModel(sqs).</Message></Error><RequestId>R</RequestId></ErrorResponse>`;
const MISSING_ACTION = `<ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">
  <Error><Type>Sender</Type><Code>MissingAction</Code><Message>MissingAction; see the SQS docs.</Message><Detail/></Error>
</ErrorResponse>`;
const JSON_ERROR = '{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}';
const HTML = '<!DOCTYPE html>\n<html><body><h1>Not Found</h1></body></html>';

describe('sniffFormat', () => {
  it.each([
    [OLD_LOCALSTACK, 'xml'],
    ['  \n<ReceiveMessageResponse/>', 'xml'],
    [JSON_ERROR, 'json'],
    [HTML, 'html'],
    ['<html><head></head></html>', 'html'],
    ['', undefined],
    ['Service Unavailable', undefined],
  ])('%j is %s', (body, expected) => {
    expect(sniffFormat(body)).toBe(expected);
  });
});

describe('foreignAnswer', () => {
  it.each([
    ['json', 500, OLD_LOCALSTACK, { status: 500, format: 'xml', code: 'InternalError' }],
    ['json', 400, MISSING_ACTION, { status: 400, format: 'xml', code: 'MissingAction', message: 'MissingAction; see the SQS docs.' }],
    ['json', 404, HTML, { status: 404, format: 'html', code: undefined, message: undefined }],
    ['query', 400, JSON_ERROR, { status: 400, format: 'json', code: 'QueueDoesNotExist', message: 'The specified queue does not exist.' }],
    ['query', 404, HTML, { status: 404, format: 'html' }],
  ] as const)('a %s request answered %i %#', (expected, status, body, answer) => {
    expect(foreignAnswer(expected, status, body)).toMatchObject(answer);
  });

  it.each([
    ['json', 400, JSON_ERROR],
    ['query', 400, MISSING_ACTION],
    ['query', 500, OLD_LOCALSTACK],
    ['json', 500, ''],
    ['json', 503, 'Service Unavailable'],
    ['query', 503, 'Service Unavailable'],
  ] as const)('leaves a %s request answered %i in its own (or no) format to the SDK %#', (expected, status, body) => {
    expect(foreignAnswer(expected, status, body)).toBeUndefined();
  });

  it('keeps the message to one bounded line', () => {
    const answer = foreignAnswer('json', 500, OLD_LOCALSTACK);
    expect(answer?.message).toMatch(/^exception while calling sqs with unknown operation: Operation detection failed\./);
    expect(answer?.message?.length).toBeLessThanOrEqual(120);
    const long = `<ErrorResponse><Error><Code>X</Code><Message>${'word\n '.repeat(200)}</Message></Error></ErrorResponse>`;
    expect(foreignAnswer('json', 500, long)?.message).toMatch(/^word word .*…$/);
    expect(foreignAnswer('json', 500, long)?.message).not.toContain('\n');
  });

  it('decodes XML entities in the message', () => {
    const xml = '<ErrorResponse><Error><Code>E</Code><Message>&quot;a&quot; &lt;b&gt; &amp; c</Message></Error></ErrorResponse>';
    expect(foreignAnswer('json', 400, xml)?.message).toBe('"a" <b> & c');
  });
});

describe('describeAnswer', () => {
  it.each([
    [{ status: 500, format: 'xml', code: 'InternalError', message: 'boom' }, 'XML (HTTP 500, InternalError: boom)'],
    [{ status: 404, format: 'html', code: undefined, message: undefined }, 'an HTML page (HTTP 404)'],
    [{ status: 400, format: 'json', code: 'QueueDoesNotExist', message: undefined }, 'JSON (HTTP 400, QueueDoesNotExist)'],
  ] as const)('%j', (answer, text) => {
    expect(describeAnswer(answer)).toBe(text);
  });
});
