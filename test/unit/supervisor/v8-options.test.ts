import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { growthWhileHeavy, mallocEnv, missingV8Options, restartEnv, runV8Options } from '../../../src/supervisor/v8-options.js';

describe('runV8Options', () => {
  it('caps the young generation, and the old one at 64 MB beyond three times the bodies allowed in hand', () => {
    expect(runV8Options(48 * 2 ** 20)).toEqual(['--max-semi-space-size=1', '--max-old-space-size=208']);
    expect(runV8Options(1)).toEqual(['--max-semi-space-size=1', '--max-old-space-size=67']);
  });
});

describe('missingV8Options', () => {
  const wanted = runV8Options(48 * 2 ** 20);
  it("adds sqs2pg's options when the operator gave none", () => {
    expect(missingV8Options(wanted, [], undefined)).toEqual(wanted);
    expect(missingV8Options(wanted, ['--enable-source-maps'], '--no-warnings')).toEqual(wanted);
  });
  it.each([
    [['--max-semi-space-size=8'], undefined, ['--max-old-space-size=208']],
    [[], '--max-old-space-size=512', ['--max-semi-space-size=1']],
    [[], '--no-warnings --max_semi_space_size=16 --max-old-space-size=300', []],
  ])("leaves the operator's own alone, one by one: %j %s", (execArgv, nodeOptions, expected) => {
    expect(missingV8Options(wanted, execArgv, nodeOptions)).toEqual(expected);
  });
});

describe('growthWhileHeavy', () => {
  it("follows the byte budget unless the operator gave the old generation's growth rule", () => {
    expect(growthWhileHeavy([], '--max-old-space-size=512')).toBeTypeOf('function');
    expect(growthWhileHeavy(['--heap-growing-percent=50'], undefined)).toBeUndefined();
    expect(growthWhileHeavy([], '--no-warnings --heap_growing_percent=50')).toBeUndefined();
  });
});

describe('restartEnv', () => {
  it("fixes glibc's mmap threshold for the process run starts over as, unless the operator set it", () => {
    expect(restartEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', MALLOC_MMAP_THRESHOLD_: '131072' });
    expect(restartEnv({ MALLOC_MMAP_THRESHOLD_: '65536' })).toEqual({ MALLOC_MMAP_THRESHOLD_: '65536' });
  });

  it("gives a supervisor's workers the same threshold, which cluster.fork adds to the supervisor's environment", () => {
    expect(mallocEnv({ PATH: '/bin' })).toEqual({ MALLOC_MMAP_THRESHOLD_: '131072' });
    expect(mallocEnv({ MALLOC_MMAP_THRESHOLD_: '65536' })).toEqual({});
  });
});

describe('the image', () => {
  it('sets no V8 options of its own, so run gives itself the same as outside it', () => {
    const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile).not.toMatch(/NODE_OPTIONS=/);
  });
});
