// What a drain prints. To a pipe: no progress line at all (no carriage return, no escape code),
// the summary on stdout, JSON lines on stderr; --json and --quiet as documented. On a terminal
// (a pseudo-terminal from util-linux's `script`): the live line, in colour unless NO_COLOR.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { CLI, createTestStack, runCli, type CliResult, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[/;
// eslint-disable-next-line no-control-regex
const COLOUR = /\x1b\[[0-9;]*m/;
const PROGRESS = /sqs2pg [\d,]+ done/;

async function filledQueue(count: number, seed: number): Promise<string> {
  const queueUrl = await stack.newQueue();
  await stack.send(queueUrl, generateSample({ count, malformed: 3, seed }).bodies);
  return queueUrl;
}

/** Runs the CLI on a pseudo-terminal; returns everything the terminal showed. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const command = [process.execPath, CLI, ...args].map((word) => `'${word}'`).join(' ');
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...env, TERM: 'xterm' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('run --drain output', () => {
  it('to a pipe: no progress line, the summary on stdout, only JSON log lines on stderr', async () => {
    const queueUrl = await filledQueue(300, 31);
    const result = await runCli(['run', '--drain'], stack.env(queueUrl));
    expect(result.code, result.stderr).toBe(0);
    for (const output of [result.stdout, result.stderr]) {
      expect(output).not.toContain('\r');
      expect(output).not.toMatch(ESCAPE);
      expect(output).not.toMatch(PROGRESS);
    }
    expect(result.stdout).toMatch(/^sqs2pg: queue drained\n {2}messages read {6}303\n/);
    for (const line of result.stderr.trim().split('\n')) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
  });

  it('--json: the summary as one JSON object and nothing else on stdout', async () => {
    const queueUrl = await filledQueue(200, 32);
    const result = await runCli(['run', '--drain', '--json'], stack.env(queueUrl));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ drained: true, received: 203, loaded: 200, quarantined: 3, deleted: 203, duplicates: 0, released: 0 });
    expect(typeof summary.seconds).toBe('number');
  });

  it('--quiet: nothing on stdout', async () => {
    const queueUrl = await filledQueue(100, 33);
    const result = await runCli(['run', '--drain', '--quiet'], stack.env(queueUrl));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
  });

  it('on a terminal: the live line, cleared before the summary; coloured, or not with NO_COLOR', async () => {
    const coloured = await onTerminal(['run', '--drain'], stack.env(await filledQueue(2_000, 34)));
    expect(coloured.code, coloured.stdout).toBe(0);
    expect(coloured.stdout).toMatch(COLOUR);
    const text = coloured.stdout.replace(new RegExp(COLOUR, 'g'), '');
    expect(text).toMatch(PROGRESS);
    expect(text).toMatch(/ in queue · [\d,]+\/s · \d+ quarantined · ETA /);
    // The last frame is erased before the summary, which starts at the left margin.
    const summaryAt = text.indexOf('sqs2pg: queue drained');
    expect(summaryAt).toBeGreaterThan(text.lastIndexOf(' done · '));
    // eslint-disable-next-line no-control-regex
    expect(text.slice(0, summaryAt)).toMatch(/(\r\x1b\[K|\n)$/);

    const plain = await onTerminal(['run', '--drain'], stack.env(await filledQueue(300, 35), { NO_COLOR: '1' }));
    expect(plain.code, plain.stdout).toBe(0);
    expect(plain.stdout).toMatch(PROGRESS);
    expect(plain.stdout).not.toMatch(COLOUR);

    const quiet = await onTerminal(['run', '--drain', '--quiet'], stack.env(await filledQueue(300, 36)));
    expect(quiet.code, quiet.stdout).toBe(0);
    expect(quiet.stdout).not.toMatch(PROGRESS);
    expect(quiet.stdout).not.toContain('sqs2pg: queue drained');
    expect(quiet.stdout).not.toMatch(ESCAPE);
  });
});
