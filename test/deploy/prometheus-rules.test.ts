// deploy/prometheus/: the alerting rules pass `promtool check rules`, and their unit tests
// (sqs2pg-alerts.test.yaml: each alert fired on synthetic series, none on a healthy worker's) pass
// `promtool test rules`. Needs Debian's prometheus package (promtool); skipped without it.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from './manifests.js';
import { promtoolMissing } from '../helpers/prometheus.js';

const DIR = `${ROOT}deploy/prometheus/`;

describe.skipIf(promtoolMissing)(`deploy/prometheus/sqs2pg-alerts.yaml${promtoolMissing ? ` (skipped: ${promtoolMissing})` : ''}`, () => {
  it('is a valid rules file', () => {
    const result = spawnSync('promtool', ['check', 'rules', 'sqs2pg-alerts.yaml'], { cwd: DIR, encoding: 'utf8' });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/SUCCESS: 3 rules found/);
  });

  it('fires each alert on the series it is for, and none on a healthy worker', () => {
    const result = spawnSync('promtool', ['test', 'rules', 'sqs2pg-alerts.test.yaml'], { cwd: DIR, encoding: 'utf8' });
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });
});
