// A real Prometheus for the tests (Debian's `prometheus` package: prometheus and promtool): one
// process on 127.0.0.1 with its data in a temporary folder, scraping the given targets every second,
// stopped by its pid. Tests that need it skip, with one line saying why, when it is not installed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/local/free-port.js';
import { get } from './http.js';
import { waitFor } from './stack.js';

function missing(tool: string): string | undefined {
  const found = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  return found.error ? `${tool} is not installed (apt-get install prometheus)` : undefined;
}

/** Why the promtool tests cannot run here, or undefined when they can. */
export const promtoolMissing = missing('promtool');
/** Why the tests that scrape with a real Prometheus cannot run here, or undefined when they can. */
export const prometheusMissing = missing('prometheus') ?? promtoolMissing;

export interface PrometheusOptions {
  /** host:port of each scrape target, all under one job */
  targets: string[];
  job: string;
  /** rule files Prometheus loads and evaluates (every second) */
  ruleFiles?: string[];
}

export interface PromSeries {
  metric: Record<string, string>;
}

export interface Prometheus {
  url: string;
  /** an instant query; throws if Prometheus refuses it (a syntax error, an unknown function) */
  query(expr: string): Promise<PromSeries[]>;
  /** GET an API path (e.g. /api/v1/metadata) and return its `data` */
  api<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
}

export async function startPrometheus(options: PrometheusOptions): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-prometheus-'));
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    ...(options.ruleFiles?.length ? ['rule_files:', ...options.ruleFiles.map((file) => `  - ${JSON.stringify(file)}`)] : []),
    'scrape_configs:',
    `  - job_name: ${JSON.stringify(options.job)}`,
    '    static_configs:',
    `      - targets: ${JSON.stringify(options.targets)}`,
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), `${config}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-2_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${log}`);
      return (await get(`${url}/-/ready`)).status === 200;
    }, 60_000, 'prometheus to be ready');
  } catch (error) {
    await stop();
    throw error;
  }
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    const answer = (await response.json()) as ApiAnswer<T>;
    if (answer.status !== 'success') throw new Error(`prometheus refused ${path}: ${answer.error ?? response.status}`);
    return answer.data;
  };
  return {
    url,
    api,
    query: async (expr) => (await api<{ result: PromSeries[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    stop,
  };
}

/** `promtool check metrics` on an exposition text: its exit code and what it said. */
export function promtoolCheckMetrics(text: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}
