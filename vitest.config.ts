// On Node 20 the AWS SDK says once per process that its releases after early January 2027 need
// Node 22. sqs2pg lets users see it; the tests, which read the CLI's stderr line by line, pass this
// to every CLI they start (test/helpers/stack.ts), except test/integration/node-support.test.ts.
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
