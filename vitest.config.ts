// On Node 20 sqs2pg notes, in one line, that the AWS SDK's releases after early January 2027 need
// Node 22 (src/node-support.ts). The tests, which read the CLI's stderr line by line, pass this to
// every CLI they start (test/helpers/stack.ts), except test/integration/node-support.test.ts.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts', 'test/faults/figures-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration files each get their own database and queue, so they may run in parallel;
    // two workers keep the 2-core machines from thrashing.
    maxWorkers: 2,
  },
});
