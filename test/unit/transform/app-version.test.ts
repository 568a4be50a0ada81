import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { appVersionToInt } from '../../../src/transform/app-version.js';

describe('appVersionToInt', () => {
  it.each([
    ['2.3.0', 2_003_000],
    ['0.96', 96_000],
    ['7', 7_000_000],
    ['3.7', 3_007_000],
    ['999.999.999', 999_999_999],
    ['0', 0],
    ['0.0.0', 0],
    ['1.2.3', 1_002_003],
    ['10.20.30', 10_020_030],
    ['1.10', 1_010_000],
  ])('%j -> %d', (text, expected) => {
    expect(appVersionToInt(text)).toBe(expected);
  });

  it.each([
    '',
    '1.2.3.4',
    '1000',
    '1.1000',
    '1.2.1000',
    'v1',
    '1.',
    '.1',
    '1..2',
    ' 1',
    '1 ',
    '1.2.3\n',
    '-1',
    '1e3',
    '1.2-beta',
    'v1-beta',
    '1,2',
    '١.٢', // Arabic-Indic digits are not ASCII digits
    'x',
  ])('refuses %j', (text) => {
    expect(appVersionToInt(text)).toBeNull();
  });

  const part = fc.integer({ min: 0, max: 999 });
  const version = fc.tuple(part, part, part);

  it('decodes back to major, minor and patch', () => {
    fc.assert(
      fc.property(version, ([major, minor, patch]) => {
        const n = appVersionToInt(`${major}.${minor}.${patch}`);
        expect(n).not.toBeNull();
        const value = n ?? -1;
        expect([Math.floor(value / 1_000_000), Math.floor(value / 1_000) % 1_000, value % 1_000]).toEqual([
          major,
          minor,
          patch,
        ]);
      }),
      { numRuns: 200 },
    );
  });

  it('treats a missing minor or patch as 0', () => {
    fc.assert(
      fc.property(part, part, (major, minor) => {
        expect(appVersionToInt(`${major}`)).toBe(appVersionToInt(`${major}.0.0`));
        expect(appVersionToInt(`${major}.${minor}`)).toBe(appVersionToInt(`${major}.${minor}.0`));
      }),
      { numRuns: 200 },
    );
  });

  it('preserves the order of versions', () => {
    const compare = (a: readonly number[], b: readonly number[]): number => {
      for (let i = 0; i < 3; i++) {
        const diff = (a[i] ?? 0) - (b[i] ?? 0);
        if (diff !== 0) return Math.sign(diff);
      }
      return 0;
    };
    fc.assert(
      fc.property(version, version, (a, b) => {
        const x = appVersionToInt(a.join('.')) ?? Number.NaN;
        const y = appVersionToInt(b.join('.')) ?? Number.NaN;
        expect(Math.sign(x - y)).toBe(compare(a, b));
      }),
      { numRuns: 200 },
    );
  });
});
