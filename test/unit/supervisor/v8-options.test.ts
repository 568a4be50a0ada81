import { describe, expect, it } from 'vitest';
import { missingV8Options, RUN_V8_OPTIONS } from '../../../src/supervisor/v8-options.js';

describe('missingV8Options', () => {
  it('adds sqs2pg\'s options when the operator gave none', () => {
    expect(missingV8Options([], undefined)).toEqual([...RUN_V8_OPTIONS]);
    expect(missingV8Options(['--enable-source-maps'], '--no-warnings')).toEqual([...RUN_V8_OPTIONS]);
  });
  it.each([
    [['--max-semi-space-size=8'], undefined],
    [[], '--max-semi-space-size=4'],
    [[], '--no-warnings --max_semi_space_size=16'],
  ])('leaves the operator\'s own young-generation size alone: %j %s', (execArgv, nodeOptions) => {
    expect(missingV8Options(execArgv, nodeOptions)).toEqual([]);
  });
});

describe('the image', () => {
  it('sets the V8 options run gives itself, so the image and the CLI run alike', async () => {
    const { readFileSync } = await import('node:fs');
    const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
    const nodeOptions = /NODE_OPTIONS=("[^"]*"|\S+)/.exec(dockerfile)?.[1]?.replace(/"/g, '');
    expect(nodeOptions?.split(/\s+/)).toEqual([...RUN_V8_OPTIONS]);
    expect(missingV8Options([], nodeOptions)).toEqual([]);
  });
});
