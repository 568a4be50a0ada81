// SigV4 headers for the lean calls, from the SDK's own signer and credential chain. A signature
// covers the request's bytes, the second it is made in and the credentials, and nothing else: a long
// poll sends the same body every time, so within one second and with the same credentials the
// signer's answer is the one it gave already, and is not worked out again for every poller.
import { SignatureV4 } from '@smithy/signature-v4';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { JSON_CONTENT_TYPE, type LeanOperation } from './json-wire.js';

export interface RequestSignerOptions {
  url: URL;
  /** the SDK client's own, resolved: its region, credential chain (with refresh) and hash */
  region: SQSClient['config']['region'];
  credentials: SQSClient['config']['credentials'];
  sha256: SQSClient['config']['sha256'];
}

type Credentials = Awaited<ReturnType<RequestSignerOptions['credentials']>>;

interface Signed {
  body: string;
  second: number;
  credentials: Credentials;
  headers: Record<string, string>;
}

export class RequestSigner {
  /** a signer for the credentials the provider last handed out */
  private signer: { credentials: Credentials; signer: SignatureV4 } | undefined;
  /** the last signature of each operation */
  private readonly last = new Map<LeanOperation, Signed>();

  constructor(
    private readonly options: RequestSignerOptions,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The headers to POST `body` as `operation` with, signed now. */
  async headers(operation: LeanOperation, body: string): Promise<Record<string, string>> {
    // The SDK's provider hands out one object until it refreshes: a new object is new credentials.
    const credentials = await this.options.credentials();
    const second = Math.floor(this.clock() / 1000);
    const last = this.last.get(operation);
    if (last !== undefined && last.second === second && last.credentials === credentials && last.body === body) return last.headers;
    const { url, region, sha256 } = this.options;
    if (this.signer?.credentials !== credentials) this.signer = { credentials, signer: new SignatureV4({ service: 'sqs', region, credentials, sha256 }) };
    const signed = await this.signer.signer.sign(
      {
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname || '/',
        query: {},
        headers: {
          host: url.host,
          'content-type': JSON_CONTENT_TYPE,
          'x-amz-target': `AmazonSQS.${operation}`,
          // As the SDK sends it: SQS then names errors by their query-protocol codes too.
          'x-amzn-query-mode': 'true',
          'content-length': String(Buffer.byteLength(body)),
        },
        body,
      },
      { signingDate: new Date(second * 1000) },
    );
    const headers = Object.freeze(signed.headers) as Record<string, string>;
    this.last.set(operation, { body, second, credentials, headers });
    return headers;
  }
}
