// sqs2pg scraped by a real Prometheus (Debian's package) while it drains a queue that keeps filling:
// every metric docs/operations.md lists arrives with its type and labels, every Grafana panel's query and
// every alert of deploy/prometheus is accepted and has data, and `promtool check metrics` passes.
// Skipped, with one line saying why, where prometheus is not installed.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/free-port.js';
import { generateSample } from '../../src/local/sample.js';
import { get } from '../helpers/http.js';
import { prometheusMissing, promtoolCheckMetrics, startPrometheus, type Prometheus } from '../helpers/prometheus.js';
import { createTestStack, migrateWithCli, startCli, waitFor, type CliProcess, type TestStack } from '../helpers/stack.js';

const ROOT = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('docs/operations.md', ROOT), 'utf8');
const ALERTS = new URL('deploy/prometheus/sqs2pg-alerts.yaml', ROOT).pathname;
const JOB = 'sqs2pg';
// Generous: two other test files share the two cores; each wait ends as soon as its state is there.
const CEILING_MS = 90_000;

interface ReadmeMetric {
  name: string;
  type: string;
  labels: string[];
}

/** docs/operations.md's metrics table (generated from the registry by npm run docs; docs/generated.test.ts keeps it current). */
const readmeMetrics: ReadmeMetric[] = readme
  .slice(readme.indexOf('<!-- metrics-table:start'), readme.indexOf('<!-- metrics-table:end'))
  .split('\n')
  .flatMap((line) => {
    const cells = /^\| `(\w+)` \| (\w+) \| ([^|]*) \|/.exec(line);
    if (!cells) return [];
    return [{ name: cells[1]!, type: cells[2]!, labels: [...cells[3]!.matchAll(/`(\w+)`/g)].map((match) => match[1]!) }];
  });

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
}
const dashboard = JSON.parse(readFileSync(new URL('deploy/grafana/sqs2pg-dashboard.json', ROOT), 'utf8')) as Dashboard;
/** Grafana's variables as Grafana would fill them for this Prometheus (1 s scrapes), every pipeline picked. */
const grafanaQuery = (expr: string) => expr.replaceAll('$job', JOB).replaceAll('$pipeline', '.*').replaceAll('$__rate_interval', '10s').replaceAll('$__interval', '10s');

interface Rule {
  name: string;
  query: string;
  health: string;
  lastError?: string;
  state?: string;
  type: string;
}

let stack: TestStack;
let cli: CliProcess | undefined;
let prometheus: Prometheus | undefined;
let metricsUrl: string;
let feeding = true;
let feeder: Promise<void> = Promise.resolve();

/** Keeps the queue filling, valid and malformed bodies both, so every rate has something to measure. */
async function feed(queueUrl: string): Promise<void> {
  for (let round = 0; feeding; round++) {
    const { bodies } = generateSample({ count: 150, malformed: 3, seed: 1_000 + round });
    await stack.send(queueUrl, bodies);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe.skipIf(prometheusMissing)(`a real Prometheus scraping sqs2pg run${prometheusMissing ? ` (skipped: ${prometheusMissing})` : ''}`, () => {
  beforeAll(async () => {
    stack = await createTestStack();
    await migrateWithCli(stack.databaseUrl);
    const queueUrl = await stack.newQueue();
    feeder = feed(queueUrl);
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    cli = startCli(['run'], stack.env(queueUrl, { SQS2PG_HTTP_PORT: String(port), SQS2PG_QUEUE_DEPTH_INTERVAL_SEC: '1' }), 10 * 60_000);
    await waitFor(async () => (await get(metricsUrl)).status === 200, CEILING_MS, 'sqs2pg /metrics');
    prometheus = await startPrometheus({ targets: [`127.0.0.1:${port}`], job: JOB, ruleFiles: [ALERTS] });
  }, 3 * CEILING_MS);

  afterAll(async () => {
    feeding = false;
    await feeder;
    if (cli) {
      cli.child.kill('SIGTERM');
      await cli.done;
    }
    await prometheus?.stop();
    await stack?.close();
  }, CEILING_MS);

  it('finds the documented metrics table to check', () => {
    expect(readmeMetrics.length).toBeGreaterThan(10);
  });

  it('scrapes every metric the documentation lists, with its type and labels', async () => {
    const prom = prometheus!;
    for (const metric of readmeMetrics) {
      const seriesName = metric.type === 'histogram' ? `${metric.name}_bucket` : metric.name;
      let labels: string[] = [];
      await waitFor(
        async () => {
          const series = await prom.api<Record<string, string>[]>(`/api/v1/series?match[]=${encodeURIComponent(`${seriesName}{job="${JOB}"}`)}`);
          labels = [...new Set(series.flatMap((one) => Object.keys(one)))].filter((label) => !['__name__', 'job', 'instance', 'le'].includes(label)).sort();
          return series.length > 0 && labels.length === metric.labels.length;
        },
        CEILING_MS,
        `${seriesName} with labels ${metric.labels.join(', ') || '(none)'} in Prometheus`,
      );
      expect(labels, metric.name).toEqual([...metric.labels].sort());
      const metadata = await prom.api<Record<string, { type: string }[]>>(`/api/v1/metadata?metric=${metric.name}`);
      expect(metadata[metric.name]?.map((entry) => entry.type), metric.name).toContain(metric.type);
    }
  }, 3 * CEILING_MS);

  it.each(dashboard.panels.flatMap((panel) => panel.targets.map((target) => [panel.title, target.expr] as const)))(
    'Grafana panel "%s": %s is accepted and has data',
    async (_title, expr) => {
      const query = grafanaQuery(expr);
      // A syntax error or an unknown function throws here, at once, instead of waiting.
      await prometheus!.query(query);
      await waitFor(async () => (await prometheus!.query(query)).length > 0, CEILING_MS, `data for ${query}`);
    },
    2 * CEILING_MS,
  );

  it('loads and evaluates every alert; bad input fires Sqs2pgQuarantining, the backlog ratio has data', async () => {
    const prom = prometheus!;
    let rules: Rule[] = [];
    await waitFor(
      async () => {
        const data = await prom.api<{ groups: { rules: Rule[] }[] }>('/api/v1/rules?type=alert');
        rules = data.groups.flatMap((group) => group.rules);
        return rules.length > 0 && rules.every((rule) => rule.health === 'ok');
      },
      CEILING_MS,
      'every alerting rule evaluated without error',
    );
    expect(rules.map((rule) => rule.name).sort()).toEqual(['Sqs2pgBacklog', 'Sqs2pgQuarantining', 'Sqs2pgServerFailing']);
    expect(rules.filter((rule) => rule.lastError)).toEqual([]);
    // Malformed bodies arrive all the time: the quarantine alert (no "for") fires.
    await waitFor(
      async () => {
        const data = await prom.api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts');
        return data.alerts.some((alert) => alert.labels.alertname === 'Sqs2pgQuarantining' && alert.state === 'firing');
      },
      CEILING_MS,
      'Sqs2pgQuarantining firing',
    );
    // The backlog alert's ratio is computed (its threshold is not reached here); a healthy drain has
    // no load or receive errors, so Sqs2pgServerFailing has nothing to say: it is fired on synthetic
    // series by promtool (test/deploy/prometheus-rules.test.ts).
    const backlog = rules.find((rule) => rule.name === 'Sqs2pgBacklog')!.query.replace(/\s*>\s*300$/, '');
    await waitFor(async () => (await prom.query(backlog)).length > 0, CEILING_MS, `data for ${backlog}`);
    const failing = rules.find((rule) => rule.name === 'Sqs2pgServerFailing')!;
    expect(failing.state).toBe('inactive');
  }, 3 * CEILING_MS);

  it('serves /metrics that promtool check metrics accepts', async () => {
    const { status, body } = await get(metricsUrl);
    expect(status).toBe(200);
    const checked = promtoolCheckMetrics(body);
    expect(checked.status, checked.output).toBe(0);
  });
});
