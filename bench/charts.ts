// SVG charts of the benchmark's and the fault suite's figures for docs/, drawn with Vega-Lite
// and rendered by Vega's headless view (no browser, no canvas). The figures come either from a
// benchmark run (run.ts) or from the tables docs/ already publishes (charts-from-readme.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface ContenderFigures {
  profile: string;
  contender: string;
  messagesPerSec: number;
  /** CPU seconds per 100,000 messages (the worker's own) */
  cpuPer100k: number | null;
}

export interface LatencyFigures {
  /** the send rate of the latency run, messages/s */
  rate: number;
  /** send → commit latency at each quantile, ms; docs/performance.md publishes p50 and p99 only */
  quantiles: { quantile: number; ms: number }[];
}

export interface BenchFigures {
  /** where the figures come from, shown under each chart */
  source: string;
  contenders: ContenderFigures[];
  latency?: LatencyFigures;
}

export interface FaultFigures {
  source: string;
  scenarios: { scenario: string; seconds: number }[];
}

const WIDTH = 420;
const FONT = { config: { font: 'Helvetica, Arial, sans-serif', view: { stroke: null } } } as const;
// One colour per contender, the same in every chart.
const CONTENDER_COLOURS = { domain: ['ceiling', 'sqs2pg', 'baseline'], range: ['#9e9e9e', '#1f77b4', '#ff7f0e'] };

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function contenderBars(figures: BenchFigures, field: 'messagesPerSec' | 'cpuPer100k', title: string, axis: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...FONT,
    title: { text: title, subtitle: figures.source },
    data: { values: figures.contenders.filter((row) => row[field] !== null) },
    facet: { row: { field: 'profile', type: 'nominal', title: null, sort: ['loopback', 'aws-like'] } },
    spec: {
      width: WIDTH,
      height: { step: 22 },
      layer: [
        {
          mark: { type: 'bar' },
          encoding: {
            y: { field: 'contender', type: 'nominal', title: null, sort: CONTENDER_COLOURS.domain },
            x: { field, type: 'quantitative', title: axis },
            color: { field: 'contender', type: 'nominal', scale: CONTENDER_COLOURS, legend: null },
          },
        },
        {
          mark: { type: 'text', align: 'left', dx: 4 },
          encoding: {
            y: { field: 'contender', type: 'nominal', sort: CONTENDER_COLOURS.domain },
            x: { field, type: 'quantitative' },
            text: { field, type: 'quantitative', format: field === 'messagesPerSec' ? ',.0f' : '.1f' },
          },
        },
      ],
    },
  };
}

function latencyChart(figures: BenchFigures, latency: LatencyFigures): TopLevelSpec {
  const values = latency.quantiles.map(({ quantile, ms }) => ({ ms, label: `p${+(quantile * 100).toFixed(1)}` }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...FONT,
    title: {
      text: `Send → commit latency, sqs2pg run at ${latency.rate.toLocaleString('en-US')} msg/s`,
      subtitle: [figures.source, 'target: p99 ≤ 500 ms at half capacity'],
    },
    width: WIDTH,
    height: { step: 26 },
    data: { values },
    layer: [
      {
        mark: { type: 'bar', color: CONTENDER_COLOURS.range[1] },
        encoding: {
          y: { field: 'label', type: 'ordinal', title: 'quantile', sort: null },
          x: { field: 'ms', type: 'quantitative', title: 'milliseconds', scale: { domainMax: Math.max(500, ...values.map((value) => value.ms)) } },
        },
      },
      { mark: { type: 'text', align: 'left', dx: 4 }, encoding: { y: { field: 'label', type: 'ordinal', sort: null }, x: { field: 'ms', type: 'quantitative' }, text: { field: 'ms', type: 'quantitative' } } },
      { data: { values: [{ target: 500 }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#d62728' }, encoding: { x: { field: 'target', type: 'quantitative' } } },
    ],
  };
}

function faultChart(figures: FaultFigures): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...FONT,
    title: { text: 'Fault scenarios: time from start to every message accounted for', subtitle: figures.source },
    width: WIDTH,
    height: { step: 22 },
    data: { values: figures.scenarios },
    layer: [
      {
        mark: { type: 'bar', color: CONTENDER_COLOURS.range[1] },
        encoding: { y: { field: 'scenario', type: 'nominal', title: null, sort: null, axis: { labelLimit: 320 } }, x: { field: 'seconds', type: 'quantitative', title: 'seconds' } },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4 },
        encoding: { y: { field: 'scenario', type: 'nominal', sort: null }, x: { field: 'seconds', type: 'quantitative' }, text: { field: 'seconds', type: 'quantitative', format: '.1f' } },
      },
    ],
  };
}

/** Writes bench-throughput.svg, bench-cpu.svg and (with latency figures) bench-latency.svg; returns the paths. */
export async function writeBenchCharts(figures: BenchFigures, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const charts: [string, TopLevelSpec][] = [
    ['bench-throughput.svg', contenderBars(figures, 'messagesPerSec', 'Throughput per contender', 'messages/s')],
    ['bench-cpu.svg', contenderBars(figures, 'cpuPer100k', 'CPU per message (worker process)', 'CPU seconds per 100,000 messages')],
  ];
  if (figures.latency) charts.push(['bench-latency.svg', latencyChart(figures, figures.latency)]);
  const written: string[] = [];
  for (const [file, spec] of charts) {
    writeFileSync(join(dir, file), await svg(spec));
    written.push(join(dir, file));
  }
  return written;
}

/** Writes faults-time.svg; returns its path. */
export async function writeFaultChart(figures: FaultFigures, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'faults-time.svg');
  writeFileSync(path, await svg(faultChart(figures)));
  return path;
}

/** The bench table docs/performance.md publishes (between its bench markers), as figures. */
export function benchFiguresFromReadme(readme: string): BenchFigures {
  const section = between(readme, '<!-- bench:start', '<!-- bench:end -->');
  const run = /Last run: ([^;]+);/.exec(section)?.[1] ?? 'docs/';
  const contenders = rows(section).flatMap((cells): ContenderFigures[] => {
    const [profile, contender, , rate, , , cpu] = cells;
    if (profile === undefined || contender === undefined || rate === undefined || !/^[\d,]+$/.test(rate)) return [];
    // The charts draw the three contenders of every run; the declared pipeline and an earlier build are the table's alone.
    if (!CONTENDER_COLOURS.domain.includes(contender)) return [];
    return [{ profile, contender, messagesPerSec: number(rate), cpuPer100k: cpu ? number(cpu) : null }];
  });
  const latency = /at ([\d,]+) msg\/s[^:]*: p50 (\d+) ms, p99 (\d+) ms/.exec(section);
  return {
    source: `figures docs/ publishes: ${run}`,
    contenders,
    ...(latency
      ? { latency: { rate: number(latency[1]!), quantiles: [{ quantile: 0.5, ms: number(latency[2]!) }, { quantile: 0.99, ms: number(latency[3]!) }] } }
      : {}),
  };
}

/** The fault suite's table docs/reliability.md publishes (scenarios with a time), as figures. */
export function faultFiguresFromReadme(readme: string): FaultFigures {
  const section = between(readme, '<!-- reliability:start', '<!-- reliability:end -->');
  const run = /Last full run: ([^;]+);/.exec(section)?.[1] ?? 'docs/';
  const scenarios = rows(section).flatMap((cells) => {
    const time = /^([\d.]+) s$/.exec(cells.at(-1) ?? '');
    return time && cells[0] ? [{ scenario: cells[0], seconds: Number(time[1]) }] : [];
  });
  return { source: `figures docs/ publishes: ${run}`, scenarios };
}

function between(text: string, start: string, end: string): string {
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from === -1 || to < from) throw new Error(`the page has no ${start} ... ${end} section`);
  return text.slice(from, to);
}

function rows(section: string): string[][] {
  return section
    .split('\n')
    .filter((line) => line.startsWith('|') && !line.startsWith('|---'))
    .map((line) => line.slice(1, -1).split('|').map((cell) => cell.trim()));
}

function number(text: string): number {
  return Number(text.replaceAll(',', ''));
}
