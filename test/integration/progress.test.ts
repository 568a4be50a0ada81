// What a drain prints. To a pipe: no progress line at all (no carriage return, no escape code),
// the summary on stdout, JSON lines on stderr; --json and --quiet as documented. On a terminal
// (a pseudo-terminal from util-linux's `script`): the live line, in colour as Node decides it, that
// fits the terminal's width; short log lines; the demo's sending shown as it happens.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Runs the CLI on a pseudo-terminal (`columns` wide); returns everything the terminal showed. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv, columns = 200): Promise<CliResult> {
  const command = `stty cols ${columns} rows 40; exec ${[process.execPath, CLI, ...args].map((word) => `'${word}'`).join(' ')}`;
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
    // Without a pipeline file the run is the one pipeline logins: its counts are the run's.
    expect(summary.pipelines).toEqual({ logins: { received: 203, loaded: 200, duplicates: 0, quarantined: 3, quarantinedByReason: expect.any(Object) as unknown, erased: 0, deleted: 203, deleteFailures: 0, released: 0, leftInQueue: 0 } });
    expect(typeof summary.seconds).toBe('number');
  });

  // It used to colour these lines in a pipe too, whatever the terminal.
  it('--log-format pretty to a pipe: short lines, no colour; FORCE_COLOR colours them even there, as Node does', async () => {
    const plain = await runCli(['run', '--drain', '--log-format', 'pretty'], stack.env(await filledQueue(50, 40)));
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/^\d\d:\d\d:\d\d INFO {2}sqs2pg started: /m);
    expect(plain.stderr).not.toMatch(ESCAPE);
    const forced = await runCli(['run', '--drain', '--log-format', 'pretty'], stack.env(await filledQueue(50, 41), { FORCE_COLOR: '1' }));
    expect(forced.code, forced.stderr).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(forced.stderr).toMatch(/^\d\d:\d\d:\d\d \x1b\[36mINFO \x1b\[0m sqs2pg started: /m);
    // Colour, but still no progress line: that needs a terminal.
    expect(forced.stderr).not.toContain('\r');
    expect(forced.stdout).not.toMatch(ESCAPE);
  });

  it('--quiet: nothing on stdout', async () => {
    const queueUrl = await filledQueue(100, 33);
    const result = await runCli(['run', '--drain', '--quiet'], stack.env(queueUrl));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
  });

  it('on a terminal: the live line, cleared before the summary; coloured, or not with NO_COLOR or FORCE_COLOR=0', async () => {
    const coloured = await onTerminal(['run', '--drain'], stack.env(await filledQueue(2_000, 34)));
    expect(coloured.code, coloured.stdout).toBe(0);
    expect(coloured.stdout).toMatch(COLOUR);
    // The log lines' levels too.
    // eslint-disable-next-line no-control-regex
    expect(coloured.stdout).toMatch(/\x1b\[36mINFO \x1b\[0m sqs2pg started: /);
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

    const off = await onTerminal(['run', '--drain'], stack.env(await filledQueue(300, 42), { FORCE_COLOR: '0' }));
    expect(off.code, off.stdout).toBe(0);
    expect(off.stdout).toMatch(PROGRESS);
    expect(off.stdout).not.toMatch(COLOUR);

    const quiet = await onTerminal(['run', '--drain', '--quiet'], stack.env(await filledQueue(300, 36)));
    expect(quiet.code, quiet.stdout).toBe(0);
    expect(quiet.stdout).not.toMatch(PROGRESS);
    expect(quiet.stdout).not.toContain('sqs2pg: queue drained');
    // Log lines still come (coloured by level), but nothing is redrawn.
    expect(quiet.stdout).not.toContain('\x1b[K');
    expect(quiet.stdout).not.toContain('\r\x1b');
  });

  it('on a terminal: short log lines, the quarantine summed up, and nothing after the summary', async () => {
    const result = await onTerminal(['run', '--drain'], stack.env(await filledQueue(500, 37), { NO_COLOR: '1' }));
    expect(result.code, result.stdout).toBe(0);
    const lines = terminalLines(result.stdout);
    expect(lines.filter((line) => line.startsWith('{'))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d INFO {2}quarantined 3 messages \(.+\); see sqs2pg\.quarantine$/));
    expect(lines.filter((line) => line.includes('quarantined: '))).toEqual([]);
    // The summary is the last thing on the screen.
    expect(lines.at(-1)).toMatch(/^ {2}time {15}/);
    expect(lines.findIndex((line) => line === 'sqs2pg: queue drained')).toBe(lines.length - 8);
  });

  it('--log-format json on a terminal: JSON lines', async () => {
    const result = await onTerminal(['run', '--drain', '--log-format', 'json'], stack.env(await filledQueue(100, 38), { NO_COLOR: '1' }));
    expect(result.code, result.stdout).toBe(0);
    expect(terminalLines(result.stdout).filter((line) => line.startsWith('{"level":30')).length).toBeGreaterThan(1);
  });

  it('on a 50-column terminal: every frame fits, keeps its ETA, and never counts more than was sent', async () => {
    const N = 3_000;
    const result = await onTerminal(['run', '--drain'], stack.env(await filledQueue(N, 39), { NO_COLOR: '1', SQS2PG_QUEUE_DEPTH_INTERVAL_SEC: '1' }), 50);
    expect(result.code, result.stdout).toBe(0);
    const frames = progressFrames(result.stdout);
    expect(frames.length).toBeGreaterThan(0);
    for (const frame of frames) {
      expect(frame.length, frame).toBeLessThan(50);
      expect(frame, JSON.stringify(frame)).toMatch(/ETA \S+$/);
      const done = Number(/([\d,]+) done/.exec(frame)?.[1]?.replaceAll(',', '') ?? 0);
      const queued = Number(/([\d,]+) in queue/.exec(frame)?.[1]?.replaceAll(',', '') ?? 0);
      expect(done + queued, frame).toBeLessThanOrEqual(N + 3);
    }
  });
});

describe('demo output on a terminal', () => {
  it('shows the sample being sent, then the drain', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'sqs2pg-demo-'));
    // As root the embedded server runs as `postgres`, which must be able to enter the folder.
    await chmod(parent, 0o755);
    try {
      const result = await onTerminal(['demo', '--messages', '3000', '--data-dir', join(parent, 'data')], { PATH: process.env.PATH, NO_COLOR: '1' });
      expect(result.code, result.stdout).toBe(0);
      // 3,000 events and the malformed bodies the demo adds.
      const total = /sqs2pg sending [\d,]+ of ([\d,]+) sample messages/.exec(result.stdout)?.[1];
      expect(total, result.stdout).toMatch(/^3,0\d\d$/);
      expect(result.stdout).toContain(`sqs2pg sending ${total!} of ${total!} sample messages`);
      expect(result.stdout).toMatch(PROGRESS);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});

/** The lines a terminal ends up showing: each carriage-return redraw keeps only its last frame. */
function terminalLines(output: string): string[] {
  return output
    .replace(/\r\n/g, '\n')
    .split('\n')
    // eslint-disable-next-line no-control-regex
    .map((line) => (line.split('\r').at(-1) ?? '').replace(/\x1b\[K/g, ''))
    .filter((line) => line !== '');
}

/** Every frame of the progress line drawn. */
function progressFrames(output: string): string[] {
  return (
    output
      // eslint-disable-next-line no-control-regex
      .split(/\r|\n|\x1b\[K/)
      .filter((frame) => / done · /.test(frame) || /^ETA /.test(frame))
  );
}
