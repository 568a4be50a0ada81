// Where Node cannot start over with sqs2pg's V8 limits (no process.execve: Node 20, 22 before 22.15),
// `run` sets V8's growth rules in the running process instead (v8-growth-rules.ts). That V8 honours
// them after start is V8's behaviour, not ours: this holds the Node running the suite to it, with the
// same work under Node's defaults beside it, which must grow (or the comparison would prove nothing).
// Where Node can start over, `run` never takes this path (and Node 24's V8 grows its young
// generation by other rules too), so there is nothing to hold.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { canRestartInPlace } from '../../src/supervisor/v8-options.js';

const MODULE = new URL('../../dist/supervisor/v8-options.js', import.meta.url).href;

// ~20 MB live that keeps turning over, as messages in hand do: each object outlives a few young
// collections, is promoted, then replaced. Prints the peak sizes of the young and old generations.
const WORK = `
const { getHeapSpaceStatistics } = await import('node:v8');
const [moduleUrl, mode] = process.argv.slice(1);
const { growthWhileHeavy, limitGrowthInPlace, runV8Options } = await import(moduleUrl);
if (mode !== 'default') limitGrowthInPlace(runV8Options(48 * 2 ** 20));
if (mode === 'heavy') growthWhileHeavy([], undefined)(true);
if (mode === 'light again') { growthWhileHeavy([], undefined)(true); growthWhileHeavy([], undefined)(false); }
const peak = { new_space: 0, old_space: 0 };
const ring = new Array(80_000);
for (let i = 0; i < 3_000_000; i++) {
  ring[i % ring.length] = { id: 'm' + i, body: String(i).padEnd(200, 'y') };
  if (i % 5_000 === 0) for (const space of getHeapSpaceStatistics()) {
    if (space.space_name in peak) peak[space.space_name] = Math.max(peak[space.space_name], space.space_size);
  }
}
console.log(JSON.stringify({ newMB: peak.new_space / 2 ** 20, oldMB: peak.old_space / 2 ** 20 }));
`;

async function peaks(mode: 'default' | 'limited' | 'heavy' | 'light again'): Promise<{ newMB: number; oldMB: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', WORK, MODULE, mode]);
  return JSON.parse(stdout) as { newMB: number; oldMB: number };
}

describe.skipIf(canRestartInPlace())(`V8's growth rules set in a running process, on Node ${process.versions.node}`, () => {
  it('keep the young generation at its first size and collect the old one at twice what survived', async () => {
    const [defaults, limited] = await Promise.all([peaks('default'), peaks('limited')]);
    const both = JSON.stringify({ defaults, limited });
    // Node's defaults: 16 MB semi-spaces, and an old generation left to grow to ~6 times the live set
    expect(defaults.newMB, both).toBeGreaterThanOrEqual(16);
    expect(limited.newMB, both).toBeLessThanOrEqual(2);
    // ~65 against ~150 MB here; the young rule alone leaves ~125, the old rule alone ~80
    expect(limited.oldMB, both).toBeLessThan(defaults.oldMB / 1.5);
    // Bounded by the work's own end, not a short clock: under a busy machine it takes minutes.
  }, 300_000);

  it('collect the old generation sooner while the byte budget is heavy, and at twice again once it is light', async () => {
    const [limited, heavy, light] = await Promise.all([peaks('limited'), peaks('heavy'), peaks('light again')]);
    const all = JSON.stringify({ limited, heavy, light });
    // ~65 MB at rest; ~40 while heavy (30% over the ~20 MB live, plus V8's minimum step)
    expect(heavy.oldMB, all).toBeLessThan(limited.oldMB / 1.3);
    expect(light.oldMB, all).toBeGreaterThan(heavy.oldMB * 1.3);
  }, 300_000);
});
