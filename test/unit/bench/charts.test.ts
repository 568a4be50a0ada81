// docs/'s charts come from its own tables: the parsers find every published figure, and Vega
// renders each chart to an SVG that carries those figures.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { benchFiguresFromReadme, faultFiguresFromReadme, writeBenchCharts, writeFaultChart } from '../../../bench/charts.js';

const performance = readFileSync(new URL('../../../docs/performance.md', import.meta.url), 'utf8');
const reliability = readFileSync(new URL('../../../docs/reliability.md', import.meta.url), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-charts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('reads the benchmark table docs/performance.md publishes, and draws it', async () => {
  const figures = benchFiguresFromReadme(performance);
  expect(figures.contenders.map((row) => `${row.profile}/${row.contender}`)).toEqual(
    ['loopback/ceiling', 'loopback/baseline', 'loopback/sqs2pg', 'aws-like/ceiling', 'aws-like/baseline', 'aws-like/sqs2pg'],
  );
  expect(figures.latency?.quantiles.map((quantile) => quantile.quantile)).toEqual([0.5, 0.99]);
  const [throughput, cpu, latency] = await writeBenchCharts(figures, dir);
  const sqs2pg = figures.contenders.find((row) => row.profile === 'loopback' && row.contender === 'sqs2pg')!;
  expect(readFileSync(throughput!, 'utf8')).toContain(`>${sqs2pg.messagesPerSec.toLocaleString('en-US')}<`);
  expect(readFileSync(cpu!, 'utf8')).toContain(`>${sqs2pg.cpuPer100k!.toFixed(1)}<`);
  expect(readFileSync(latency!, 'utf8')).toMatch(/^<svg/);
});

it('reads the fault suite table docs/reliability.md publishes, and draws it', async () => {
  const figures = faultFiguresFromReadme(reliability);
  expect(figures.scenarios.length).toBeGreaterThanOrEqual(9);
  const svg = readFileSync(await writeFaultChart(figures, dir), 'utf8');
  for (const { scenario } of figures.scenarios) expect(svg).toContain(scenario.slice(0, 12));
});
