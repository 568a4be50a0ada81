// The SQS client table of `npm run bench`: each candidate of bench/client-drain.ts drains the
// same number of messages from the benchmark's SQS server (its own process), under GNU time,
// `rounds` times in turn (sdk, aws-lite, lean, sdk, ...) so a noisy neighbour hits all alike.
// Runs alone with `npm run bench -- --clients-only [--messages N] [--client-rounds R]`.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLIENT_CANDIDATES, type ClientCandidate } from './client-drain.js';
import { fillQueue } from './fill-queue.js';

const HERE = fileURLToPath(new URL('./', import.meta.url));
const POLLERS = 16;

export interface ClientMeasure {
  candidate: ClientCandidate;
  messages: number;
  seconds: number;
  cpuSeconds: number | null;
}

/** Every candidate `rounds` times, alternating; the lines of progress go to `log`. */
export async function measureClients(endpoint: string, messages: number, rounds: number, log: (line: string) => void): Promise<ClientMeasure[]> {
  const results: ClientMeasure[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const candidate of CLIENT_CANDIDATES) {
      const measure = await measureClient(candidate, endpoint, messages);
      results.push(measure);
      log(`client    ${candidate.padEnd(8)} round ${round}: ${describe(measure)}`);
    }
  }
  return results;
}

async function measureClient(candidate: ClientCandidate, endpoint: string, messages: number): Promise<ClientMeasure> {
  const queueUrl = await fillQueue(endpoint, messages, 'bench-client');
  const timeFile = join(mkdtempSync(join(tmpdir(), 'sqs2pg-bench-client-')), 'time');
  const args = [join(HERE, 'client-drain.js'), candidate, endpoint, queueUrl, String(POLLERS), String(messages)];
  const timed = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const child = spawn(timed ? '/usr/bin/time' : 'node', timed ? ['-f', '%U %S', '-o', timeFile, 'node', ...args] : args, {
    env: { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`the ${candidate} client drain exited with ${code}`);
  return { candidate, messages, seconds, cpuSeconds: timed ? readCpu(timeFile) : null };
}

function readCpu(file: string): number | null {
  const [user, system] = (readFileSync(file, 'utf8').trim().split('\n').at(-1) ?? '').split(' ').map(Number);
  return user === undefined || system === undefined || Number.isNaN(user + system) ? null : user + system;
}


const rate = (m: ClientMeasure) => m.messages / m.seconds;
const cpuPer100k = (m: ClientMeasure) => (m.cpuSeconds === null ? NaN : (m.cpuSeconds * 100_000) / m.messages);

function describe(m: ClientMeasure): string {
  return `${m.messages} messages in ${m.seconds.toFixed(1)} s: ${Math.round(rate(m))} msg/s, ${cpuPer100k(m).toFixed(1)} CPU s/100k`;
}

/** One row per candidate: the range over its rounds (median first when there are three or more). */
export function renderClientsTable(results: readonly ClientMeasure[]): string {
  const lines = [
    `No-work drain (receive 10 + DeleteMessageBatch, ${POLLERS} pollers) of the benchmark's SQS server, per client:`,
    '',
    '| client | runs | messages | msg/s | × sdk | CPU s / 100k msgs |',
    '|---|---|---|---|---|---|',
  ];
  const sdkRates = results.filter((m) => m.candidate === 'sdk').map(rate);
  const sdkMedian = median(sdkRates);
  for (const candidate of CLIENT_CANDIDATES) {
    const runs = results.filter((m) => m.candidate === candidate);
    if (runs.length === 0) continue;
    const rates = runs.map(rate);
    const cpus = runs.map(cpuPer100k);
    lines.push(
      `| ${candidate} | ${runs.length} | ${runs[0]!.messages.toLocaleString('en-US')} | ${range(rates, 0)} | ${(median(rates) / sdkMedian).toFixed(2)} | ${range(cpus, 1)} |`,
    );
  }
  return lines.join('\n');
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

function range(values: readonly number[], digits: number): string {
  if (values.some(Number.isNaN)) return 'n/a';
  const show = (value: number) => (digits === 0 ? Math.round(value).toLocaleString('en-US') : value.toFixed(digits));
  const low = Math.min(...values);
  const high = Math.max(...values);
  return low === high ? show(low) : `${show(low)}–${show(high)}`;
}
