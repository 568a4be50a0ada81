// The AWS SDK's notice that its releases after early January 2027 need Node 22: on Node 20 a user
// sees it as one line of sqs2pg's own, once per command (not the SDK's eight-line process warning,
// and not once per worker); on Node 22 and later there is nothing to say.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStack, migrateWithCli, runCli, type TestStack } from '../helpers/stack.js';

const nodeMajor = Number(process.versions.node.split('.')[0]);
const NOTE = `sqs2pg: note: Node ${process.versions.node} works, but AWS SDK releases after early January 2027 need Node 22`;
let stack: TestStack;
let queueUrl: string;
beforeAll(async () => {
  stack = await createTestStack();
  queueUrl = await stack.newQueue();
  await migrateWithCli(stack.databaseUrl);
});
afterAll(() => stack.close());

describe(`the AWS SDK's Node version notice, on Node ${process.versions.node}`, () => {
  // An empty variable is not "true": the SDK then decides, as for a user who never set it.
  const userEnv = (extra: NodeJS.ProcessEnv = {}) => stack.env(queueUrl, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '', ...extra });

  it(nodeMajor < 22 ? 'is one line of ours, before anything else' : 'has nothing to say', async () => {
    const result = await runCli(['check'], userEnv(), 30_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/NodeVersionSupport|will require node/);
    expect(result.stderr.trim()).toBe(nodeMajor < 22 ? NOTE : '');
  });

  it('is said once by a supervisor, not by each of its workers', async () => {
    const result = await runCli(['run', '--drain', '--workers', '2', '--log-level', 'warn'], userEnv(), 60_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.split('\n').filter((line) => /Node 22|node >=22/.test(line))).toEqual(nodeMajor < 22 ? [NOTE] : []);
  });

  it('is not said where the user turned the SDK notice off, nor for --help', async () => {
    const off = await runCli(['check'], userEnv({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }), 30_000);
    expect(off.stderr).toBe('');
    const help = await runCli(['run', '--help'], userEnv(), 30_000);
    expect(help.stderr).toBe('');
  });
});
