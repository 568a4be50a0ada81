// The Grafana dashboard is built on the metrics sqs2pg really exports: every metric a panel
// queries exists, and the panels the operator needs are there, for every pipeline or those picked.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/observability/events.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { ROOT } from './manifests.js';

interface Dashboard {
  uid: string;
  panels: { title: string; type: string; datasource: { uid: string }; targets: { expr: string; legendFormat: string }[] }[];
  templating: { list: { name: string; query?: { query: string } }[] };
}

const dashboard = JSON.parse(readFileSync(`${ROOT}deploy/grafana/sqs2pg-dashboard.json`, 'utf8')) as Dashboard;

describe('deploy/grafana/sqs2pg-dashboard.json', () => {
  it('queries only metrics sqs2pg exports', async () => {
    const metrics = await createMetrics(new EventBus()).registry.getMetricsAsJSON();
    const exported = new Set(
      metrics.flatMap((metric) => (String(metric.type) === 'histogram' ? ['_bucket', '_sum', '_count'].map((suffix) => metric.name + suffix) : [metric.name])),
    );
    const used = dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => [...target.expr.matchAll(/\b(sqs2pg_\w+|process_\w+|nodejs_\w+)\{/g)].map((match) => match[1]!)));
    expect(used.length).toBeGreaterThan(15);
    expect([...new Set(used)].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('has the panels an operator looks for', () => {
    const titles = dashboard.panels.map((panel) => panel.title);
    for (const title of [
      'Throughput',
      'Throughput by pipeline',
      'Queue depth and messages in hand',
      'Time to empty the queue',
      'Time to empty each queue',
      'Errors by stage and code',
      'Quarantine by reason',
      'Commit latency',
    ]) {
      expect(titles).toContain(title);
    }
  });

  it('takes its Prometheus data source as a variable, so it imports anywhere', () => {
    expect(dashboard.templating.list.map((variable) => variable.name)).toContain('datasource');
    expect(dashboard.panels.every((panel) => panel.datasource.uid === '${datasource}')).toBe(true);
  });

  it('has a pipeline variable, and every pipeline series it queries is of the pipelines picked', () => {
    const variable = dashboard.templating.list.find((one) => one.name === 'pipeline');
    expect(variable?.query?.query).toMatch(/label_values\(sqs2pg_\w+\{job=~"\$job"\}, pipeline\)/);
    // The workers count processes, whatever they run; everything else is a pipeline's.
    const selectors = dashboard.panels
      .filter((panel) => panel.title !== 'Workers')
      .flatMap((panel) => panel.targets.flatMap((target) => [...target.expr.matchAll(/\bsqs2pg_\w+\{[^}]*\}/g)].map((match) => match[0])));
    expect(selectors.length).toBeGreaterThan(20);
    expect(selectors.filter((selector) => !selector.includes('pipeline=~"$pipeline"'))).toEqual([]);
  });

  it('draws a line for each pipeline in every time series but the run\'s total throughput', () => {
    const split = dashboard.panels.filter((panel) => panel.type === 'timeseries' && panel.title !== 'Throughput' && panel.targets.some((target) => target.expr.includes('sqs2pg_')));
    expect(split.length).toBeGreaterThanOrEqual(7);
    for (const panel of split) {
      for (const target of panel.targets) {
        expect(target.expr, panel.title).toMatch(/by \(pipeline\b/);
        expect(target.legendFormat, panel.title).toContain('{{pipeline}}');
      }
    }
  });
});
