// The body the SQS extended client (Java, Python, JS) sends when it offloads a payload to S3:
// ["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"…","s3Key":"…"}]. Pure:
// reading the pointer; fetching the object is the source's (source/s3/).
import { unwrapEnvelope, type EnvelopeMode } from './envelope.js';
import { parseJson } from './login-event.js';

export interface S3Pointer {
  bucket: string;
  key: string;
}

const POINTER_CLASS = 'software.amazon.payloadoffloading.PayloadS3Pointer';
// A pointer is a few hundred bytes: anything longer is not one, and is never parsed here.
const MAX_POINTER_CHARS = 4096;
// S3's own limits: bucket names 3–63 characters, keys up to 1,024 bytes.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MAX_KEY_BYTES = 1024;
// An SNS Notification around a pointer: the pointer, ids, signature and URLs are a few KiB.
const MAX_WRAPPED_CHARS = 16 * 1024;

/** Cheap test for the hot path: only a body that starts like a pointer is parsed. */
export function looksLikeS3Pointer(body: string): boolean {
  return body.length <= MAX_POINTER_CHARS && body.trimStart().startsWith(`["${POINTER_CLASS}"`);
}

/** The bucket and key of a well-formed pointer body; undefined for any other body. */
export function s3PointerOf(body: string): S3Pointer | undefined {
  if (!looksLikeS3Pointer(body)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 2 || value[0] !== POINTER_CLASS) return undefined;
  const target: unknown = value[1];
  if (typeof target !== 'object' || target === null) return undefined;
  const { s3BucketName: bucket, s3Key: key } = target as Record<string, unknown>;
  if (typeof bucket !== 'string' || !BUCKET.test(bucket)) return undefined;
  if (typeof key !== 'string' || key.length === 0 || Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES || !key.isWellFormed()) return undefined;
  return { bucket, key };
}

/**
 * The pointer the SNS extended client publishes, as an SQS subscription (raw delivery off) receives
 * it: the Message of a well-formed SNS Notification, keyed and dated by the notification. Undefined
 * for any other body, and where `mode` takes no SNS envelope.
 */
export function snsWrappedS3PointerOf(body: string, mode: EnvelopeMode): { pointer: S3Pointer; key: string; timeMs: number } | undefined {
  if ((mode !== 'auto' && mode !== 'sns') || body.length > MAX_WRAPPED_CHARS || !body.includes(POINTER_CLASS)) return undefined;
  const json = parseJson(body);
  if (!json) return undefined;
  const layer = unwrapEnvelope(json.value, 'sns');
  if (layer.kind !== 'event' || layer.envelope !== 'sns') return undefined;
  const pointer = s3PointerOf((json.value as { Message: string }).Message);
  return pointer && { pointer, key: layer.key, timeMs: layer.timeMs };
}

/** An extended-client pointer found in a body; `envelope`: the SNS Notification it came in, whose key and time the payload takes. */
export interface FoundPointer {
  pointer: S3Pointer;
  envelope?: { key: string; timeMs: number };
}

/**
 * The extended-client pointer `body` carries: the body itself, or (the SNS extended client's) an SNS
 * Notification's Message where `mode` unwraps SNS. Workers and replay find pointers alike with it.
 */
export function pointerIn(body: string, mode: EnvelopeMode): FoundPointer | undefined {
  const pointer = s3PointerOf(body);
  if (pointer !== undefined) return { pointer };
  const wrapped = snsWrappedS3PointerOf(body, mode);
  return wrapped && { pointer: wrapped.pointer, envelope: { key: wrapped.key, timeMs: wrapped.timeMs } };
}
