// Error labels for the metrics: the stage that failed and one of a few fixed codes. Servers and
// sockets report free-form codes (SQS error names, SQLSTATEs, errno names); a label must come from
// a small fixed set, so dashboards stay readable and no server text becomes a time series.
import type { SqsOperation } from './events.js';

export const errorStages = ['receive', 'transform', 'load', 'delete'] as const;
export type ErrorStage = (typeof errorStages)[number];

export const errorClasses = [
  /** the connection failed or was reset */
  'connection',
  /** no answer in time */
  'timeout',
  /** the server asked us to slow down */
  'throttled',
  /** the server failed (5xx, out of resources, shutting down) */
  'server',
  /** a serialization failure, deadlock or lock timeout: retrying helps */
  'conflict',
  /** the server refused the request: permissions, a missing queue, a row a constraint refuses */
  'refused',
  /** the message body could not become a row (quarantined) */
  'invalid_message',
  'unknown',
] as const;
export type ErrorClass = (typeof errorClasses)[number];

const CONNECTION = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET', 'connection']);
const TIMEOUT = new Set(['ETIMEDOUT', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'ESOCKETTIMEDOUT', '57014']);
// S3's own (offloaded payloads): SlowDown is its 503 throttle, the rest its refusals of a request or an object.
const THROTTLED = new Set(['SlowDown', 'RequestThrottled', 'ThrottlingException', 'Throttling', 'TooManyRequestsException', 'OverLimit', 'KmsThrottled', 'RequestThrottledException']);
const SERVER = new Set(['InternalError', 'InternalFailure', 'ServiceUnavailable', 'ServiceUnavailableException', 'BadGateway']);
const REFUSED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'AWS.SimpleQueueService.NonExistentQueue',
  'QueueDoesNotExist',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ReceiptHandleIsInvalid',
  'InvalidParameterValue',
  'InvalidAddress',
  'InvalidSecurity',
  'InvalidAccessKeyId',
  'InvalidToken',
  'TokenRefreshRequired',
  'RequestTimeTooSkewed',
  'AuthorizationHeaderMalformed',
  'NoSuchKey',
  'NoSuchBucket',
  'InvalidObjectState',
  'InvalidRequest',
  'PermanentRedirect',
  'PreconditionFailed',
  'InvalidRange',
  // a write under a key id sqs2pg rotate retired (sql/0015)
  'SQ2RK',
]);

/** Maps any error code (SQS, SQLSTATE, errno, or anything else) onto the fixed set. */
export function errorClass(code: string): ErrorClass {
  if (CONNECTION.has(code)) return 'connection';
  if (TIMEOUT.has(code)) return 'timeout';
  if (THROTTLED.has(code)) return 'throttled';
  if (SERVER.has(code)) return 'server';
  if (REFUSED.has(code)) return 'refused';
  if (/^[0-9A-Z]{5}$/.test(code)) return sqlstateClass(code);
  return 'unknown';
}

function sqlstateClass(sqlstate: string): ErrorClass {
  switch (sqlstate.slice(0, 2)) {
    case '08':
      return 'connection';
    case '57':
    case '53':
    case '58':
    case 'XX':
      return 'server';
    case '40':
      return 'conflict';
    case '55':
      return sqlstate === '55P03' || sqlstate === '55006' ? 'conflict' : 'refused';
    case '22':
    case '23':
    case '42':
    case '28':
    case '3D':
    case '3F':
      return 'refused';
    default:
      return 'unknown';
  }
}

/** Reading the queue is the receive stage; deleting and changing visibility are the acknowledgement. */
export function stageOfSqsOperation(operation: SqsOperation): ErrorStage {
  return operation === 'receive' || operation === 'depth' ? 'receive' : 'delete';
}
