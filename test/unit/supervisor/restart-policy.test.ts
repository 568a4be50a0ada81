// What the supervisor does with a worker's exit: the exit code's table (errors.ts, EXIT) decides
// whether a restart can help; deaths without a commit decide the backoff and the crash loop.
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../../src/errors.js';
import { CRASH_LOOP_DEATHS, decideOnExit, RESTART_BACKOFF } from '../../../src/supervisor/restart-policy.js';

describe('decideOnExit', () => {
  it.each([
    ['a drain that ended', EXIT.ok, 1, { action: 'done' }],
    ['a setting or a key', EXIT.config, 1, { action: 'stopRun', code: EXIT.config }],
    ['a server unreachable, or an outage given up on', EXIT.unreachable, 1, { action: 'stopRun', code: EXIT.unreachable }],
    ['a privilege, a table or a column PostgreSQL refuses', EXIT.refused, 1, { action: 'stopRun', code: EXIT.refused }],
    ['the fifth crash without a commit', EXIT.crashed, CRASH_LOOP_DEATHS, { action: 'stopRun', code: EXIT.crashLoop }],
    ['the fifth kill without a commit (OOM killer, V8 abort)', null, CRASH_LOOP_DEATHS, { action: 'stopRun', code: EXIT.crashLoop }],
  ])('%s: %j', (_name, code, deaths, decision) => {
    expect(decideOnExit(code, deaths)).toEqual(decision);
  });

  it('restarts a crash, a kill or an unknown code, with a backoff that grows with the deaths since the last commit', () => {
    for (const code of [EXIT.crashed, null, 134, 137, 42]) {
      for (let deaths = 1; deaths < CRASH_LOOP_DEATHS; deaths++) {
        const decision = decideOnExit(code, deaths);
        const ceiling = Math.min(RESTART_BACKOFF.maxMs, RESTART_BACKOFF.initialMs * 2 ** (deaths - 1));
        expect(decision.action).toBe('restart');
        if (decision.action !== 'restart') continue;
        expect(decision.delayMs).toBeGreaterThanOrEqual(ceiling / 2);
        expect(decision.delayMs).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('gives every exit code its own meaning', () => {
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
