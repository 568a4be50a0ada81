// The Grafana dashboard is built on the metrics sqs2pg really exports: every metric a panel
// queries exists, and the panels the operator needs are there.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/observability/events.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { ROOT } from './manifests.js';

interface Dashboard {
  uid: string;
  panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
  templating: { list: { name: string }[] };
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
    for (const title of ['Throughput', 'Queue depth and messages in hand', 'Time to empty the queue', 'Errors by stage and code', 'Quarantine by reason', 'Commit latency']) {
      expect(titles).toContain(title);
    }
  });

  it('takes its Prometheus data source as a variable, so it imports anywhere', () => {
    expect(dashboard.templating.list.map((variable) => variable.name)).toContain('datasource');
    expect(dashboard.panels.every((panel) => panel.datasource.uid === '${datasource}')).toBe(true);
  });
});
