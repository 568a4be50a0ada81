// Why the queue could not be read at start (run, demo, check), as a cause and what to do. A
// connection refused is not a credentials problem, and an endpoint that answered "no such
// queue" did answer: it is asked which queues it has (ListQueues, first ten), when allowed.
import { describeError, Sqs2pgError } from '../../errors.js';
import type { SqsApi } from './sqs-api.js';

const LISTED = 10;
const LIST_TIMEOUT_MS = 5_000;

const NO_QUEUE = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'NonExistentQueue']);
const BAD_CREDENTIALS = new Set(['InvalidClientTokenId', 'UnrecognizedClientException', 'SignatureDoesNotMatch', 'ExpiredToken', 'IncompleteSignature', 'InvalidSecurity']);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException']);

export interface QueueFailure {
  cause: string;
  action: string;
}

export async function explainQueueFailure(error: unknown, queueUrl: string, target: string, sqs: SqsApi): Promise<QueueFailure> {
  if (error instanceof Sqs2pgError) return { cause: error.message, action: 'see above' };
  const { name, code } = errorNames(error);
  const endpoint = safeUrl(target);
  const hostPort = endpoint ? `${endpoint.hostname}:${endpoint.port || (endpoint.protocol === 'https:' ? '443' : '80')}` : target;
  if (NO_QUEUE.has(name) || NO_QUEUE.has(code)) {
    const queueName = lastSegment(queueUrl);
    const namesake = await sameNameElsewhere(sqs, queueUrl, queueName);
    if (namesake) {
      return {
        cause: `the endpoint ${target} has a queue ${queueName}, but as ${namesake.url} (${namesake.differs}), and finds a queue by its whole URL`,
        action: `set SQS_QUEUE_URL=${namesake.url}${namesake.hostOnly ? ` and AWS_ENDPOINT_URL_SQS=${target}, so the calls go where they do now` : ''}`,
      };
    }
    return {
      cause: `the endpoint ${target} answered that it has no queue ${queueName}; ${await queuesListed(sqs)}`,
      action: "check the queue name and account id in SQS_QUEUE_URL, and AWS_REGION",
    };
  }
  if (code === 'ECONNREFUSED') {
    return {
      cause: `connection refused (ECONNREFUSED): nothing listens on ${hostPort}`,
      action: 'check the host and port of SQS_QUEUE_URL (or AWS_ENDPOINT_URL_SQS) and that the server is running (LocalStack: port 4566)',
    };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { cause: `the host name ${endpoint?.hostname ?? target} does not resolve (DNS ${code})`, action: 'check the host of SQS_QUEUE_URL (or AWS_ENDPOINT_URL_SQS)' };
  }
  if (name === 'AbortError' || name === 'TimeoutError' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return { cause: `no answer from ${hostPort} within 10 s`, action: 'check SQS_QUEUE_URL (or AWS_ENDPOINT_URL_SQS), the network, and any proxy or firewall between here and SQS' };
  }
  if (name === 'CredentialsProviderError') {
    return { cause: 'no AWS credentials were found', action: 'give them as the AWS SDK looks for them: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a role' };
  }
  if (BAD_CREDENTIALS.has(name) || BAD_CREDENTIALS.has(code)) {
    return { cause: `the endpoint refused the AWS credentials (${name || code})`, action: 'check the credentials and that AWS_REGION is the queue\'s region' };
  }
  if (DENIED.has(name) || DENIED.has(code)) {
    return { cause: `the credentials may not read the queue (${name || code})`, action: 'allow sqs:GetQueueAttributes and the other actions of the IAM policy in docs/operations.md to the role' };
  }
  return {
    cause: describeError(error),
    action: 'check SQS_QUEUE_URL, AWS_ENDPOINT_URL_SQS, AWS_REGION, the AWS credentials and that the role may call sqs:GetQueueAttributes',
  };
}

/**
 * A queue of the same name under another URL, and what differs: emulators (fauxqs) find a queue
 * by its whole URL, host included, so the same path on another host is "no such queue" to them.
 * Undefined when there is none, or it cannot be asked; never throws.
 */
async function sameNameElsewhere(sqs: SqsApi, queueUrl: string, queueName: string): Promise<{ url: string; differs: string; hostOnly: boolean } | undefined> {
  const wanted = safeUrl(queueUrl);
  if (!wanted) return undefined;
  let urls: string[];
  try {
    urls = await sqs.listQueues(LISTED, AbortSignal.timeout(LIST_TIMEOUT_MS), queueName);
  } catch {
    return undefined;
  }
  for (const url of urls) {
    const found = safeUrl(url);
    if (!found || lastSegment(url) !== queueName || found.href === wanted.href) continue;
    const differs: string[] = [];
    if (found.host !== wanted.host) differs.push(`host ${found.host}, not ${wanted.host}`);
    const account = (u: URL) => u.pathname.split('/').filter(Boolean).at(-2) ?? '';
    if (account(found) !== account(wanted)) differs.push(`account ${account(found) || 'none'}, not ${account(wanted) || 'none'}`);
    if (found.protocol !== wanted.protocol) differs.push(`${found.protocol.slice(0, -1)}, not ${wanted.protocol.slice(0, -1)}`);
    if (differs.length === 0) continue;
    return { url, differs: differs.join('; '), hostOnly: differs.length === 1 && found.host !== wanted.host };
  }
  return undefined;
}

function lastSegment(url: string): string {
  return safeUrl(url)?.pathname.split('/').filter(Boolean).at(-1) ?? url;
}

/** "queues it has: a, b" or why they cannot be listed; never throws. */
async function queuesListed(sqs: SqsApi): Promise<string> {
  try {
    const urls = await sqs.listQueues(LISTED, AbortSignal.timeout(LIST_TIMEOUT_MS));
    if (urls.length === 0) return 'it has no queues';
    const names = urls.map(lastSegment);
    return `queues it has: ${names.join(', ')}${urls.length >= LISTED ? ` (the first ${LISTED})` : ''}`;
  } catch (error) {
    const { name, code } = errorNames(error);
    return `its queues could not be listed (${name || code || 'error'})`;
  }
}

function errorNames(error: unknown): { name: string; code: string } {
  if (typeof error !== 'object' || error === null) return { name: '', code: '' };
  if (error instanceof AggregateError && !(error as { code?: unknown }).code && error.errors.length > 0) return errorNames(error.errors[0]);
  const { name, code, Code } = error as { name?: unknown; code?: unknown; Code?: unknown };
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  return { name: text(name), code: text(code) || text(Code) };
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
