// The extended client's pointer body: read only when it is exactly one; anything else is a body.
import { describe, expect, it } from 'vitest';
import { looksLikeS3Pointer, s3PointerOf, snsWrappedS3PointerOf } from '../../../src/transform/s3-pointer.js';

const CLASS = 'software.amazon.payloadoffloading.PayloadS3Pointer';
const pointer = (target: unknown) => JSON.stringify([CLASS, target]);

describe('s3PointerOf', () => {
  it('reads the bucket and key of the pointer the Java, Python and JS extended clients write', () => {
    expect(s3PointerOf(pointer({ s3BucketName: 'login-payloads', s3Key: '3f1c9a52-7b0e-4d8e-9c11-2a6f0e4b7d31' }))).toEqual({
      bucket: 'login-payloads',
      key: '3f1c9a52-7b0e-4d8e-9c11-2a6f0e4b7d31',
    });
    expect(s3PointerOf(` ${pointer({ s3BucketName: 'b.example-1', s3Key: 'a/b c/é' })}`)).toEqual({ bucket: 'b.example-1', key: 'a/b c/é' });
  });

  it.each([
    ['a login event', '{"user_id":"u"}'],
    ['another class', JSON.stringify(['com.example.Pointer', { s3BucketName: 'bucket', s3Key: 'k' }])],
    ['a third element', JSON.stringify([CLASS, { s3BucketName: 'bucket', s3Key: 'k' }, 1])],
    ['no key', pointer({ s3BucketName: 'bucket' })],
    ['an empty key', pointer({ s3BucketName: 'bucket', s3Key: '' })],
    ['a key over 1,024 bytes', pointer({ s3BucketName: 'bucket', s3Key: 'k'.repeat(1025) })],
    ['a bucket name S3 cannot have', pointer({ s3BucketName: 'Bucket_Upper', s3Key: 'k' })],
    ['a bucket that is a number', pointer({ s3BucketName: 42, s3Key: 'k' })],
    ['truncated JSON', pointer({ s3BucketName: 'bucket', s3Key: 'k' }).slice(0, -2)],
    ['a pointer padded past 4 KiB', `${pointer({ s3BucketName: 'bucket', s3Key: 'k' })}${' '.repeat(5000)}`],
  ])('takes %s for a body', (_name, body) => {
    expect(s3PointerOf(body)).toBeUndefined();
  });

  it('looks at the start of a body only: a plain event is never parsed for it', () => {
    expect(looksLikeS3Pointer('{"user_id":"u","note":"software.amazon.payloadoffloading.PayloadS3Pointer"}')).toBe(false);
    expect(looksLikeS3Pointer(`["${CLASS}"`)).toBe(true);
  });
});

describe('snsWrappedS3PointerOf', () => {
  const ID = '6f1c9a52-7b0e-4d8e-9c11-2a6f0e4b7d31';
  const notification = (message: string, extra: object = {}) =>
    JSON.stringify({ Type: 'Notification', MessageId: ID, TopicArn: 'arn:aws:sns:us-east-1:1:t', Message: message, Timestamp: '2026-03-04T10:00:00Z', ...extra });
  const target = { s3BucketName: 'login-payloads', s3Key: 'k' };

  it("reads the pointer an SNS Notification carries, keyed and dated by the notification", () => {
    expect(snsWrappedS3PointerOf(notification(pointer(target)), 'auto')).toEqual({ pointer: { bucket: 'login-payloads', key: 'k' }, key: `sns:${ID}`, timeMs: Date.UTC(2026, 2, 4, 10) });
    expect(snsWrappedS3PointerOf(notification(pointer(target)), 'sns')).toBeDefined();
  });

  it('nothing where the mode takes no SNS envelope, the notification is not well formed, or its Message is no pointer', () => {
    expect(snsWrappedS3PointerOf(notification(pointer(target)), 'none')).toBeUndefined();
    expect(snsWrappedS3PointerOf(notification(pointer(target)), 'eventbridge')).toBeUndefined();
    expect(snsWrappedS3PointerOf(notification(pointer(target), { MessageId: 'not-a-uuid' }), 'auto')).toBeUndefined();
    expect(snsWrappedS3PointerOf(notification(`{"note":"${CLASS}"}`), 'auto')).toBeUndefined();
    expect(snsWrappedS3PointerOf(pointer(target), 'auto')).toBeUndefined();
  });
});
