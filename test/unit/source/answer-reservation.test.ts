// What a receive reserves of the byte budget before it is sent: the default (--answer-bytes reserve)
// keeps the worst case even for the lean client, which could count answers as they arrive instead;
// a hostile burst of 1 MiB bodies took 3.2 x a clean run's memory under counting (docs/performance.md).
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
  it('is the worst case for a counting client asked to reserve (the default), and nothing when asked to count', () => {
    expect(source(true, true).reservePerMessageBytes).toBe(2 * 1024 * 1024);
    expect(source(true, false).reservePerMessageBytes).toBe(0);
  });
});
