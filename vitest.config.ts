// The SDK's Node 22 notice would repeat in every test process; the lockfile pins this SDK.
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
