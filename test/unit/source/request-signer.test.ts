// The lean path's signatures against the SDK's signer used the plain way, for every case the
// memo could get wrong: the same second, the next second, another body, other credentials.
import { SQSClient } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { JSON_CONTENT_TYPE, receiveBody, type LeanOperation } from '../../../src/source/sqs/json-wire.js';
import { RequestSigner } from '../../../src/source/sqs/request-signer.js';

const URL_ = new URL('http://127.0.0.1:4566/');
const RECEIVE = receiveBody({ queueUrl: 'http://127.0.0.1:4566/000000000000/q', maxMessages: 10, waitSec: 20, visibilityTimeoutSec: 30 });
const T0 = Date.UTC(2026, 11, 2, 18, 0, 0, 250);

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

function setup(first: Credentials) {
  let credentials = first;
  let now = T0;
  const client = new SQSClient({ region: 'eu-west-1', credentials: () => Promise.resolve(credentials) });
  const signer = new RequestSigner({ url: URL_, region: client.config.region, credentials: () => Promise.resolve(credentials), sha256: client.config.sha256 }, () => now);
  /** what the SDK's signer, made afresh, gives for the same request at the same moment */
  const expected = async (operation: LeanOperation, body: string) => {
    const fresh = new SignatureV4({ service: 'sqs', region: 'eu-west-1', credentials, sha256: client.config.sha256 });
    const signed = await fresh.sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 4566,
        path: '/',
        query: {},
        headers: {
          host: '127.0.0.1:4566',
          'content-type': JSON_CONTENT_TYPE,
          'x-amz-target': `AmazonSQS.${operation}`,
          'x-amzn-query-mode': 'true',
          'content-length': String(Buffer.byteLength(body)),
        },
        body,
      },
      { signingDate: new Date(now) },
    );
    return signed.headers;
  };
  return {
    signer,
    expected,
    tick: (ms: number) => (now += ms),
    rotate: (next: Credentials) => (credentials = next),
    destroy: () => client.destroy(),
  };
}

describe('RequestSigner', () => {
  it('gives what the SDK signer gives, for the same second, the next one, another body and new credentials', async () => {
    const t = setup({ accessKeyId: 'AKIDFIRST', secretAccessKey: 'one' });
    const first = await t.signer.headers('ReceiveMessage', RECEIVE);
    expect(first).toEqual(await t.expected('ReceiveMessage', RECEIVE));
    expect(first.authorization).toContain('Credential=AKIDFIRST/20261202/eu-west-1/sqs/aws4_request');

    t.tick(700); // still 18:00:00
    expect(await t.signer.headers('ReceiveMessage', RECEIVE)).toBe(first);
    const deleteBody = '{"QueueUrl":"q","Entries":[{"Id":"0","ReceiptHandle":"r"}]}';
    expect(await t.signer.headers('DeleteMessageBatch', deleteBody)).toEqual(await t.expected('DeleteMessageBatch', deleteBody));
    const otherBody = RECEIVE.replace('"MaxNumberOfMessages":10', '"MaxNumberOfMessages":9');
    expect(await t.signer.headers('ReceiveMessage', otherBody)).toEqual(await t.expected('ReceiveMessage', otherBody));

    t.tick(100); // 18:00:01
    const next = await t.signer.headers('ReceiveMessage', RECEIVE);
    expect(next['x-amz-date']).toBe('20261202T180001Z');
    expect(next).toEqual(await t.expected('ReceiveMessage', RECEIVE));

    t.rotate({ accessKeyId: 'AKIDSECOND', secretAccessKey: 'two', sessionToken: 'token' });
    const rotated = await t.signer.headers('ReceiveMessage', RECEIVE);
    expect(rotated).toEqual(await t.expected('ReceiveMessage', RECEIVE));
    expect(rotated.authorization).toContain('Credential=AKIDSECOND/');
    expect(rotated['x-amz-security-token']).toBe('token');
    t.destroy();
  });
});
