// The SQS client as sqs2pg uses it: an explicit endpoint, when configured, wins for every call
// (even over the queue URL's host); otherwise the queue URL's host is the endpoint; keep-alive
// sockets sized for several concurrent long polls.
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { SQSClient } from '@aws-sdk/client-sqs';
import { AwsQueryProtocol } from '@aws-sdk/core/protocols';

export interface SqsClientOptions {
  region: string;
  endpoint?: string | undefined;
  queueUrl: string;
  /** the longest long poll the client will make, so requests are not cut short */
  receiveWaitSec: number;
  maxSockets: number;
  env: NodeJS.ProcessEnv;
  /** wire protocol (default json); the SDK speaks both with the same commands */
  protocol?: 'json' | 'query';
}

// LocalStack and other local emulators accept any credentials; a first run against them should
// not fail for want of AWS_ACCESS_KEY_ID.
const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export function createSqsClient(options: SqsClientOptions): SQSClient {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
  return new SQSClient({
    region: options.region,
    // Without an endpoint the SDK would resolve AWS's own for the region, then notice that the
    // queue URL names another host, use that host anyway and print plain-text advice on stderr at
    // every start. Saying so up front is the same behaviour, without the advice.
    endpoint: options.endpoint ?? new URL(options.queueUrl).origin,
    ...(usesLocalEmulator(options) ? { credentials: LOCAL_CREDENTIALS } : {}),
    ...(options.protocol === 'query' ? { protocol: AwsQueryProtocol } : {}),
    maxAttempts: 3,
    requestHandler: {
      httpAgent: new Agent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: 5_000,
      // A hung request must end: long polls get their wait plus a margin.
      requestTimeout: (options.receiveWaitSec + 10) * 1_000,
      throwOnRequestTimeout: true,
    },
  });
}

function usesLocalEmulator(options: SqsClientOptions): boolean {
  const { env } = options;
  if (env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE || env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) {
    return false;
  }
  const host = new URL(options.endpoint ?? options.queueUrl).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.') || host.endsWith('.localhost') || host === 'localstack';
}
