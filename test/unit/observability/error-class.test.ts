// Error labels come from a fixed set whatever code a server sends: table-driven for the codes
// sqs2pg meets, property-based for everything else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorClass, errorClasses, stageOfSqsOperation } from '../../../src/observability/error-class.js';

describe('errorClass', () => {
  it.each([
    ['ECONNREFUSED', 'connection'],
    ['ECONNRESET', 'connection'],
    ['connection', 'connection'],
    ['08006', 'connection'],
    ['ETIMEDOUT', 'timeout'],
    ['TimeoutError', 'timeout'],
    ['57014', 'timeout'],
    ['RequestThrottled', 'throttled'],
    ['ThrottlingException', 'throttled'],
    ['InternalError', 'server'],
    ['ServiceUnavailable', 'server'],
    ['57P01', 'server'],
    ['53300', 'server'],
    ['40001', 'conflict'],
    ['40P01', 'conflict'],
    ['55P03', 'conflict'],
    ['AccessDenied', 'refused'],
    ['AWS.SimpleQueueService.NonExistentQueue', 'refused'],
    ['ReceiptHandleIsInvalid', 'refused'],
    ['23514', 'refused'],
    ['42501', 'refused'],
    ['22001', 'refused'],
    ['SlowDown', 'throttled'],
    ['NoSuchKey', 'refused'],
    ['InvalidAccessKeyId', 'refused'],
    ['RequestTimeTooSkewed', 'refused'],
    ['SQ2RK', 'refused'],
    ['SomethingNew', 'unknown'],
    ['', 'unknown'],
  ])('%s -> %s', (code, expected) => {
    expect(errorClass(code)).toBe(expected);
  });

  it('never returns a value outside the fixed set, for any text', () => {
    fc.assert(fc.property(fc.string(), (code) => (errorClasses as readonly string[]).includes(errorClass(code))));
  });
});

describe('stageOfSqsOperation', () => {
  it('puts reading the queue in receive and acknowledging in delete', () => {
    expect(['receive', 'depth', 'delete', 'release', 'extend'].map((op) => stageOfSqsOperation(op as 'receive'))).toEqual([
      'receive',
      'receive',
      'delete',
      'delete',
      'delete',
    ]);
  });
});
