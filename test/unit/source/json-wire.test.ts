// The lean path's pure parts: request bodies and answers, checked as strictly as the SDK checks them.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AnswerShapeError,
  changeVisibilityBatchBody,
  deleteBatchBody,
  errorFromAnswer,
  parseBatchAnswer,
  parseReceiveAnswer,
  receiveAnswerMaxBytes,
  receiveBody,
  SqsServiceError,
} from '../../../src/source/sqs/json-wire.js';
import { retryClass } from '../../../src/source/sqs/lean-transport.js';

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
const QUEUE = 'http://127.0.0.1:1/000000000000/q';

describe('request bodies', () => {
  it('ReceiveMessage asks for both attribute lists, as the SDK path does', () => {
    expect(JSON.parse(receiveBody({ queueUrl: QUEUE, maxMessages: 10, waitSec: 20, visibilityTimeoutSec: 30 }))).toEqual({
      QueueUrl: QUEUE,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 20,
      VisibilityTimeout: 30,
      MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
      AttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
    });
  });

  it('ReceiveMessage carries a FIFO attempt id when it has one, and no such field otherwise', () => {
    const request = { queueUrl: 'http://127.0.0.1:1/000000000000/q.fifo', maxMessages: 10, waitSec: 20, visibilityTimeoutSec: 30 };
    expect(JSON.parse(receiveBody({ ...request, attemptId: 'a-1' }))).toMatchObject({ ReceiveRequestAttemptId: 'a-1' });
    expect(JSON.parse(receiveBody(request))).not.toHaveProperty('ReceiveRequestAttemptId');
    expect(JSON.parse(receiveBody({ ...request, attemptId: undefined }))).not.toHaveProperty('ReceiveRequestAttemptId');
  });

  it('batch calls carry every entry, the visibility one its timeout on each', () => {
    const entries = [
      { id: '0', receiptHandle: 'r"0' },
      { id: '1', receiptHandle: 'r\\1' },
    ];
    expect(JSON.parse(deleteBatchBody(QUEUE, entries))).toEqual({
      QueueUrl: QUEUE,
      Entries: [
        { Id: '0', ReceiptHandle: 'r"0' },
        { Id: '1', ReceiptHandle: 'r\\1' },
      ],
    });
    expect(JSON.parse(changeVisibilityBatchBody(QUEUE, entries, 0))).toMatchObject({
      Entries: [
        { Id: '0', VisibilityTimeout: 0 },
        { Id: '1', VisibilityTimeout: 0 },
      ],
    });
  });
});

describe('parseReceiveAnswer', () => {
  const message = (body: string, extra: Record<string, unknown> = {}) => ({
    MessageId: 'm1',
    ReceiptHandle: 'h1',
    Body: body,
    MD5OfBody: md5(body),
    Attributes: { SentTimestamp: '1700000000000', ApproximateReceiveCount: '2' },
    ...extra,
  });

  it.each([
    ['an empty answer', '{}', []],
    ['no messages', '{"Messages":[]}', []],
  ])('%s is no messages', (_, answer, expected) => {
    expect(parseReceiveAnswer(answer)).toEqual(expected);
  });

  it('reads id, handle, body (any Unicode) and the two system attributes', () => {
    const body = '{"user_id":"ü😀\\n\\u0000"}';
    expect(parseReceiveAnswer(JSON.stringify({ Messages: [message(body)] }))).toEqual([
      { messageId: 'm1', receiptHandle: 'h1', body, sentTimestamp: '1700000000000', approximateReceiveCount: '2' },
    ]);
  });

  it('checks the MD5 of any string exactly as a streamed hash of its UTF-8 does (lone surrogates too)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (body) => {
        expect(parseReceiveAnswer(JSON.stringify({ Messages: [message(body)] }))[0]?.body).toBe(body);
      }),
    );
  });

  it('drops a message without id or receipt handle, as the SDK path does', () => {
    expect(parseReceiveAnswer(JSON.stringify({ Messages: [message('a', { ReceiptHandle: undefined })] }))).toEqual([]);
  });

  it.each([
    ['a wrong MD5', { MD5OfBody: '00000000000000000000000000000000' }],
    ['no MD5', { MD5OfBody: undefined }],
  ])('refuses the whole answer for %s, in the SDK words', (_, extra) => {
    const answer = JSON.stringify({ Messages: [message('ok'), message('bad', { MessageId: 'm2', ...extra })] });
    expect(() => parseReceiveAnswer(answer)).toThrow('Invalid MD5 checksum on messages: m2');
  });

  it.each(['<html>', 'not json', '[]', '{"Messages":{}}', '{"Messages":[1]}'])('refuses %j as a SyntaxError without echoing it', (answer) => {
    expect(() => parseReceiveAnswer(answer)).toThrow(AnswerShapeError);
    try {
      parseReceiveAnswer(answer);
    } catch (error) {
      expect((error as Error).name).toBe('SyntaxError');
      expect((error as Error).message).not.toMatch(/<html>|not json/);
    }
  });

  it('bounds an answer by six times ten bodies plus their envelopes', () => {
    expect(receiveAnswerMaxBytes(1024 * 1024)).toBeGreaterThan(10 * 6 * 1024 * 1024);
    expect(receiveAnswerMaxBytes(1024 * 1024)).toBeLessThan(61 * 1024 * 1024);
  });
});

describe('parseBatchAnswer', () => {
  it('returns the Failed entries with their fault', () => {
    const answer = JSON.stringify({
      Successful: [{ Id: '0' }],
      Failed: [
        { Id: '1', Code: 'ReceiptHandleIsInvalid', SenderFault: true, Message: 'x' },
        { Id: '2', Code: 'InternalError', SenderFault: false },
      ],
    });
    expect(parseBatchAnswer(answer, 'DeleteMessageBatch')).toEqual([
      { id: '1', code: 'ReceiptHandleIsInvalid', senderFault: true },
      { id: '2', code: 'InternalError', senderFault: false },
    ]);
    expect(parseBatchAnswer('{"Successful":[]}', 'DeleteMessageBatch')).toEqual([]);
  });
});

describe('errorFromAnswer', () => {
  it.each([
    // [status, x-amzn-query-error, body, name, Code, fault, retry]
    [400, 'RequestThrottled;Sender', { __type: 'com.amazonaws.sqs#RequestThrottled', message: 'm' }, 'RequestThrottled', 'RequestThrottled', 'client', 'throttling'],
    [500, 'InternalError;Receiver', { __type: 'com.amazonaws.sqs#InternalError', message: 'm' }, 'InternalError', 'InternalError', 'server', 'transient'],
    [400, 'AWS.SimpleQueueService.NonExistentQueue;Sender', { __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'm' }, 'QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'client', undefined],
    [400, undefined, { __type: 'com.amazon.coral.service#AccessDeniedException', Message: 'm' }, 'AccessDeniedException', undefined, 'client', undefined],
    [429, undefined, { __type: 'x#Whatever' }, 'Whatever', undefined, 'client', 'throttling'],
  ] as const)('HTTP %i %s is named as the SDK names it', (status, header, body, name, code, fault, retry) => {
    const error = errorFromAnswer(status, header, JSON.stringify(body)) as SqsServiceError;
    expect(error).toBeInstanceOf(SqsServiceError);
    expect([error.name, error.Code, error.$fault, error.$metadata.httpStatusCode]).toEqual([name, code, fault, status]);
    expect(retryClass(error)).toBe(retry);
  });

  it('an empty 500 is Unknown and retried; an HTML 502 a retried SyntaxError', () => {
    const empty = errorFromAnswer(500, undefined, '');
    expect([empty.name, retryClass(empty)]).toEqual(['Unknown', 'transient']);
    const html = errorFromAnswer(502, undefined, '<html><body>bad gateway</body></html>');
    expect([html.name, retryClass(html)]).toEqual(['SyntaxError', 'transient']);
    expect(html.message).not.toContain('bad gateway');
  });

  it('network errors are retried as the SDK retries them, others not', () => {
    expect(retryClass(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('transient');
    expect(retryClass(Object.assign(new Error('x'), { name: 'TimeoutError' }))).toBe('transient');
    expect(retryClass(new Error('Invalid MD5 checksum on messages: m1'))).toBeUndefined();
  });
});
