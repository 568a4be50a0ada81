// client.ts hands the SDK client a protocol class from @aws-sdk/core: it must be the copy the
// client itself uses, or a bump of one package without the other would load two SDK cores.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

describe('@aws-sdk/core', () => {
  it('is the one copy @aws-sdk/client-sqs uses (bump the two together)', () => {
    const fromClient = createRequire(require.resolve('@aws-sdk/client-sqs')).resolve('@aws-sdk/core/protocols');
    expect(require.resolve('@aws-sdk/core/protocols')).toBe(fromClient);
  });
});
