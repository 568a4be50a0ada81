// What an S3 error means for the message whose payload it was, by S3's code (the SDK's error name)
// and, where S3 gave none, its status: the whole table, including the codes the integration tests
// do not ask a server for.
import { describe, expect, it } from 'vitest';
import { s3Failure } from '../../../src/source/s3/payload-resolver.js';

const s3Error = (name: string, status?: number) => Object.assign(new Error(`${name} for the object`), { name, ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }) });

describe('s3Failure', () => {
  it.each([
    // The caller's credentials: every object would get the same; no message's fault.
    ['InvalidAccessKeyId', 403, 'credentials'],
    ['SignatureDoesNotMatch', 403, 'credentials'],
    ['RequestTimeTooSkewed', 403, 'credentials'],
    ['ExpiredToken', 400, 'credentials'],
    ['InvalidToken', 400, 'credentials'],
    ['TokenRefreshRequired', 400, 'credentials'],
    ['AuthorizationHeaderMalformed', 400, 'credentials'],
    ['CredentialsProviderError', undefined, 'credentials'],
    // This object, for good: quarantined with the code.
    ['AccessDenied', 403, 'unavailable'],
    ['NoSuchKey', 404, 'unavailable'],
    ['NoSuchBucket', 404, 'unavailable'],
    ['InvalidObjectState', 403, 'unavailable'],
    ['InvalidRequest', 400, 'unavailable'],
    ['PreconditionFailed', 412, 'unavailable'],
    ['InvalidRange', 416, 'unavailable'],
    ['PermanentRedirect', 301, 'unavailable'],
    // Worth asking again.
    ['SlowDown', 503, 'transient'],
    ['InternalError', 500, 'transient'],
    ['RequestTimeout', 400, 'transient'],
    ['OperationAborted', 409, 'transient'],
    ['TooManyRequests', 429, 'transient'],
    ['TemporaryRedirect', 307, 'transient'],
    ['TimeoutError', undefined, 'transient'],
  ] as const)('%s (%s): %s', (name, status, fate) => {
    expect(s3Failure(s3Error(name, status))).toEqual({ code: name, fate });
  });

  it.each([
    [403, 'AccessDenied', 'unavailable'],
    [404, 'NotFound', 'unavailable'],
    [412, 'PreconditionFailed', 'unavailable'],
    [416, 'InvalidRange', 'unavailable'],
    [418, 'ClientError', 'unavailable'],
    [502, 'Unknown', 'transient'],
  ] as const)('no code, status %s: %s, %s', (status, code, fate) => {
    expect(s3Failure(s3Error('Unknown', status))).toEqual({ code, fate });
  });

  it('a socket error, with no status and a code that is no word, is transient', () => {
    expect(s3Failure(Object.assign(new Error('connect ECONNREFUSED'), { name: 'Error', code: 'ECONNREFUSED' }))).toEqual({ code: 'Error', fate: 'transient' });
  });
});
