// sqs2pg does not hide the AWS SDK's notice that its releases after early January 2027 need Node 22:
// on Node 20 a user sees it (once per process), on Node 22 and later there is nothing to say.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStack, migrateWithCli, runCli, type TestStack } from '../helpers/stack.js';

const nodeMajor = Number(process.versions.node.split('.')[0]);
let stack: TestStack;
let queueUrl: string;
beforeAll(async () => {
  stack = await createTestStack();
  queueUrl = await stack.newQueue();
  await migrateWithCli(stack.databaseUrl);
});
afterAll(() => stack.close());

describe(`the AWS SDK's Node version notice, on Node ${process.versions.node}`, () => {
  it(nodeMajor < 22 ? 'reaches the user' : 'has nothing to say', async () => {
    // An empty variable is not "true": the SDK then decides, as for a user who never set it.
    const result = await runCli(['check'], stack.env(queueUrl, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '' }), 30_000);
    expect(result.code, result.stderr).toBe(0);
    if (nodeMajor < 22) expect(result.stderr).toMatch(/will require node >=22/);
    else expect(result.stderr).not.toMatch(/NodeVersionSupport/);
  });
});
