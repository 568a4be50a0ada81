// The S3 side of the SQS extended client's pointers: fetches the object a pointer body names, under
// the byte budget and the size limit of a body, and (a setting) deletes it once its message is committed and deleted.
// The only code that imports @aws-sdk/client-s3, and only when a pointer first needs it: the module
// costs ~160 ms of CPU to load, at every start of a worker whose queue may never carry a pointer
// (--s3-payloads resolve is the default). What S3 answers decides the message's fate, by S3's code:
// an object missing, denied or unreadable for good is an answer about it (the message is quarantined);
// a credentials fault is not the message's (the worker stops, the messages stay in the queue); a
// network error, a throttle or a 5xx is transient (the message goes back).
import type { S3Client } from '@aws-sdk/client-s3';
import { describeError } from '../../errors.js';
import type { S3Pointer } from '../../transform/s3-pointer.js';
import type { PayloadHold } from '../sqs/byte-budget.js';

export interface S3PayloadOptions {
  region: string;
  /** AWS_ENDPOINT_URL_S3: an emulator (fauxqs, LocalStack) or a VPC endpoint; addressed path-style */
  endpoint?: string | undefined;
  /** objects larger than this are not read (--max-body-bytes): the message is refused as too_large, as a body would be */
  maxBytes: number;
  /** to tell whether any credentials are configured (a local emulator then gets dummy ones, as SQS's does) */
  env: NodeJS.ProcessEnv;
}

/**
 * Room in the byte budget for one message's payload of up to `utf8Bytes` (SqsSource.holdPayload):
 * resolves once counted, undefined when `signal` ends the wait first.
 */
export type PayloadRoom = (utf8Bytes: number, signal: AbortSignal) => Promise<PayloadHold | undefined>;

export type Payload =
  | { kind: 'resolved'; pointer: S3Pointer; body: string }
  | { kind: 'refused'; reason: 'payload_unavailable' | 'too_large'; detail: string }
  | { kind: 'transient'; code: string; message: string }
  /** S3 refused the worker's credentials (wrong key, expired token, skewed clock): no message's fault */
  | { kind: 'credentials'; code: string; message: string };

const ABORTED: Payload = { kind: 'transient', code: 'aborted', message: 'the run is stopping' };

// S3's answers about the caller, not the object: every object would get the same (403 or 400). A 403
// AccessDenied is not one: S3 gives it for a missing object the role may not list, and a bucket
// policy may deny one prefix, so it is an answer about that object.
export const CREDENTIAL_FAULTS: ReadonlySet<string> = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidToken',
  'TokenRefreshRequired',
  'RequestTimeTooSkewed',
  'InvalidClientTokenId',
  'IncompleteSignature',
  'AuthorizationHeaderMalformed',
  'MissingSecurityHeader',
  'InvalidSecurity',
  'AccountProblem',
  'CredentialsProviderError',
]);

// 4xx answers that are worth asking again: S3 timed out reading the request, a conflicting operation, a throttle.
const TRANSIENT_4XX = new Set(['RequestTimeout', 'OperationAborted', 'SlowDown', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequests', 'TemporaryRedirect']);

// The codes S3 has no XML for (a HEAD, a proxy's bare status): named by their status.
const STATUS_CODES: Readonly<Record<number, string>> = { 301: 'PermanentRedirect', 307: 'TemporaryRedirect', 400: 'BadRequest', 403: 'AccessDenied', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict', 411: 'MissingContentLength', 412: 'PreconditionFailed', 416: 'InvalidRange' };

type S3Sdk = typeof import('@aws-sdk/client-s3');

export class S3PayloadResolver {
  private sdk: Promise<{ s3: S3Sdk; client: S3Client }> | undefined;
  private destroyed = false;

  constructor(private readonly options: S3PayloadOptions) {}

  /** The SDK and its client, loaded and made on first use. */
  private connect(): Promise<{ s3: S3Sdk; client: S3Client }> {
    const { options } = this;
    this.sdk ??= import('@aws-sdk/client-s3').then((s3) => {
      // The SDK's own credential chain and retries (3 attempts) for transient failures.
      const client = new s3.S3Client({
        region: options.region,
        endpoint: options.endpoint,
        forcePathStyle: options.endpoint !== undefined,
        // A bucket in another region than AWS_REGION: S3 answers 301 and names it; asked again there.
        followRegionRedirects: true,
        ...(isLocalEmulator(options) ? { credentials: { accessKeyId: 'test', secretAccessKey: 'test' } } : {}),
        requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
      });
      // Destroyed while the module was loading: no socket may outlive the run.
      if (this.destroyed) client.destroy();
      return { s3, client };
    });
    return this.sdk;
  }

  /**
   * The object `pointer` names, read under the process's byte budget: room for the largest body is
   * asked for before the request, the rest given back once S3 states the object's length, and the
   * bytes are counted as they stream in (the stated length may be wrong; none may be stated).
   */
  async fetch(pointer: S3Pointer, room: PayloadRoom, signal: AbortSignal): Promise<Payload> {
    const { maxBytes } = this.options;
    const hold = await room(maxBytes, signal);
    if (hold === undefined) return ABORTED;
    let body: string | undefined;
    try {
      const { s3, client } = await this.connect();
      const output = await client.send(new s3.GetObjectCommand({ Bucket: pointer.bucket, Key: pointer.key }), { abortSignal: signal });
      const stream = output.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
      if (output.ContentLength !== undefined && output.ContentLength > maxBytes) {
        stream?.destroy?.();
        return { kind: 'refused', reason: 'too_large', detail: `s3 object of ${output.ContentLength} bytes` };
      }
      if (output.ContentLength !== undefined) hold.shrink(output.ContentLength);
      const chunks: Uint8Array[] = [];
      let bytes = 0;
      for await (const chunk of stream ?? []) {
        bytes += chunk.byteLength;
        // A length the answer did not state (or stated wrong) is enforced while reading: never more than the limit in hand.
        if (bytes > maxBytes) {
          stream?.destroy?.();
          return { kind: 'refused', reason: 'too_large', detail: `s3 object over ${maxBytes} bytes` };
        }
        chunks.push(chunk);
      }
      body = Buffer.concat(chunks).toString('utf8');
      return { kind: 'resolved', pointer, body };
    } catch (error) {
      if (signal.aborted) return ABORTED;
      const { code, fate } = s3Failure(error);
      // The code only: the key is the sender's text, and stays out of the record.
      if (fate === 'unavailable') return { kind: 'refused', reason: 'payload_unavailable', detail: code };
      return { kind: fate, code, message: withoutPointer(describeError(error), pointer) };
    } finally {
      // What the message holds from now on: the payload it carries to its commit, or nothing.
      hold.end(body);
    }
  }

  /** Throws an S3CallError: S3's code, and its text without the pointer's bucket and key. */
  async delete(pointer: S3Pointer): Promise<void> {
    try {
      const { s3, client } = await this.connect();
      await client.send(new s3.DeleteObjectCommand({ Bucket: pointer.bucket, Key: pointer.key }));
    } catch (error) {
      throw new S3CallError(s3Failure(error).code, withoutPointer(describeError(error), pointer));
    }
  }

  /**
   * Whether S3 answers at all (for check): any answer from S3 is one, a refusal to list included
   * (the role needs no s3:ListAllMyBuckets), except credentials it refuses (`refused`: S3's code),
   * with which a worker would stop at the first offloaded body.
   */
  async answers(): Promise<{ ok: true } | { ok: false; reason: string; refused?: string }> {
    try {
      const { s3, client } = await this.connect();
      await client.send(new s3.ListBucketsCommand({ MaxBuckets: 1 }), { abortSignal: AbortSignal.timeout(10_000) });
      return { ok: true };
    } catch (error) {
      const { code, fate } = s3Failure(error);
      if (fate === 'credentials') return { ok: false, reason: describeError(error), refused: code };
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      return status !== undefined && status < 500 ? { ok: true } : { ok: false, reason: describeError(error) };
    }
  }

  destroy(): void {
    this.destroyed = true;
    void this.sdk?.then(({ client }) => client.destroy());
  }
}

/** A failed S3 call, as logged: S3's code, and a text that names no bucket or key. */
export class S3CallError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'S3CallError';
  }
}

/**
 * S3's error text (or a proxy's, or the socket's) without the pointer's bucket and key, as they are
 * or as a URL spells them: a key is the sender's text and may name a user, and a store may quote it.
 */
export function withoutPointer(text: string, { bucket, key }: S3Pointer): string {
  const forms: [string, string][] = [
    [key, '<key>'],
    [encodeURIComponent(key), '<key>'],
    [key.split('/').map(encodeURIComponent).join('/'), '<key>'],
    [bucket, '<bucket>'],
  ];
  return forms.reduce((out, [form, mark]) => out.replaceAll(form, mark), text);
}

/**
 * The error's code (its name, a plain word) and what it means for the message: S3 refused the
 * credentials (no message's fault); an answer about this object no retry changes (any other 4xx:
 * missing, denied, archived, encrypted with a customer key, a failed precondition; a permanent
 * redirect the SDK could not follow); or transient
 * (no answer, a 5xx, a throttle, a 4xx that asks for a retry).
 */
export function s3Failure(error: unknown): { code: string; fate: 'credentials' | 'unavailable' | 'transient' } {
  const named = error as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = named.$metadata?.httpStatusCode;
  const name = typeof named.name === 'string' && /^[A-Za-z]{1,64}$/.test(named.name) ? named.name : 'Error';
  const unnamed = name === 'Unknown' || name === 'Error' || name === 'UnknownError';
  const code = unnamed && status !== undefined ? (STATUS_CODES[status] ?? (status >= 400 && status < 500 ? 'ClientError' : name)) : name;
  if (CREDENTIAL_FAULTS.has(code)) return { code, fate: 'credentials' };
  if (status === undefined || status >= 500 || status === 429 || status === 408 || TRANSIENT_4XX.has(code)) return { code, fate: 'transient' };
  // A 301 that names no region to follow (a bucket moved, an endpoint that redirects) is as final as a 4xx.
  return { code, fate: status >= 300 ? 'unavailable' : 'transient' };
}

// As the SQS client does (source/sqs/client.ts): an emulator on this host takes any credentials, and
// a first run against one should not fail for want of AWS_ACCESS_KEY_ID.
function isLocalEmulator({ endpoint, env }: S3PayloadOptions): boolean {
  if (endpoint === undefined || env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE || env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) {
    return false;
  }
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.') || host.endsWith('.localhost') || host === 'localstack';
}
