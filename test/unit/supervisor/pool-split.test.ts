import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { resolveWorkerCount, splitPoolSize } from '../../../src/supervisor/pool-split.js';

describe('splitPoolSize', () => {
  it.each([
    [10, 3, [4, 3, 3]],
    [4, 1, [4]],
    [4, 4, [1, 1, 1, 1]],
    [9, 2, [5, 4]],
    [100, 7, [15, 15, 14, 14, 14, 14, 14]],
  ])('%i connections over %i workers: %j', (total, workers, expected) => {
    const split = splitPoolSize(total, workers);
    expect(split).toEqual(expected);
    expect(split.reduce((a, b) => a + b, 0)).toBe(total);
  });

  it('refuses more workers than connections, saying what to change', () => {
    expect(() => splitPoolSize(4, 5)).toThrow(ConfigError);
    expect(() => splitPoolSize(4, 5)).toThrow(/raise --db-pool-size to at least 5 or run fewer workers/);
  });
});

describe('resolveWorkerCount', () => {
  it('takes a number as it is and auto as the cores available', () => {
    expect(resolveWorkerCount(3, 8)).toBe(3);
    expect(resolveWorkerCount('auto', 8)).toBe(8);
    expect(resolveWorkerCount('auto', 0)).toBe(1);
  });
});

describe('the workers setting', () => {
  const env = { SQS2PG_MASK_KEY: 'ecfa96dd3f29bc244460689c0b9ccc3042fa97318679104bbe50bb0a90c805ce' };
  it('defaults to 1 and reads auto or a number', () => {
    expect(loadConfig('run', [], env).config.workers).toBe(1);
    expect(loadConfig('run', ['--workers', 'auto'], env).config.workers).toBe('auto');
    expect(loadConfig('run', [], { ...env, SQS2PG_WORKERS: '3' }).config.workers).toBe(3);
  });
  it('refuses 0, 257 and words', () => {
    for (const value of ['0', '257', 'many']) expect(() => loadConfig('run', ['--workers', value], env)).toThrow(/--workers \(SQS2PG_WORKERS\)/);
  });
  it('lets a later flag win, as the supervisor gives each worker its share of the pool', () => {
    expect(loadConfig('run', ['--db-pool-size', '10', '--db-pool-size=4'], env).config.dbPoolSize).toBe(4);
  });
});
