// What a receive reserves of the byte budget before it is sent: nothing where the lean client counts
// answers as they arrive (the default), the worst case where the client cannot (the SDK) or where
// --answer-bytes reserve asks for it.
import { describe, expect, it } from 'vitest';
import { SqsSource } from '../../../src/source/sqs/source.js';
import type { SqsApi } from '../../../src/source/sqs/sqs-api.js';

const unused = () => Promise.reject(new Error('not called'));
const api = (countsAnswerBytes: boolean): SqsApi => ({
  countsAnswerBytes,
  receive: unused,
  deleteBatch: unused,
  changeVisibilityBatch: unused,
  queueAttributes: unused,
  listQueues: unused,
  destroy: () => undefined,
});
const source = (countsAnswerBytes: boolean, reserveAnswers?: boolean) =>
  new SqsSource(api(countsAnswerBytes), { queueUrl: 'http://127.0.0.1/q', visibilityTimeoutSec: 30, emit: () => undefined, ...(reserveAnswers === undefined ? {} : { reserveAnswers }) });

describe('reservePerMessageBytes', () => {
  it('is twice the queue maximum for a client that cannot count answers, whatever is asked', () => {
    expect(source(false).reservePerMessageBytes).toBe(2 * 1024 * 1024);
    expect(source(false, false).reservePerMessageBytes).toBe(2 * 1024 * 1024);
  });
  it('is the worst case for a counting client asked to reserve, and nothing when asked to count (the default)', () => {
    expect(source(true, true).reservePerMessageBytes).toBe(2 * 1024 * 1024);
    expect(source(true, false).reservePerMessageBytes).toBe(0);
  });
});
