// /healthz and /readyz of a running worker: ready while PostgreSQL answers, not ready while a
// proxy cuts it off (alive all the same), ready again once it is back; and a port already taken
// is one line and exit 2, not a worker running without its probes.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/free-port.js';
import { get } from '../helpers/http.js';
import { createTestStack, runCli, startCli, waitFor, type CliProcess, type TestStack } from '../helpers/stack.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

interface Readyz {
  status: number;
  report: { ready: boolean; checks: Record<string, string> } | undefined;
}

async function readyz(url: string): Promise<Readyz> {
  const answer = await get(`${url}/readyz`);
  return { status: answer.status, report: answer.status === 0 ? undefined : (JSON.parse(answer.body) as Readyz['report']) };
}

describe('/readyz', () => {
  it('turns not ready when PostgreSQL goes away, and ready again when it is back; /healthz stays ok', async () => {
    const queueUrl = await stack.newQueue();
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(stack.databaseUrl).port));
    const databaseUrl = new URL(stack.databaseUrl);
    databaseUrl.hostname = '127.0.0.1';
    databaseUrl.port = String(proxy.port);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let cli: CliProcess | undefined;
    try {
      cli = startCli(['run'], stack.env(queueUrl, { DATABASE_URL: databaseUrl.toString(), SQS2PG_HTTP_PORT: String(port) }));
      let state: Readyz = { status: 0, report: undefined };
      await waitFor(async () => (state = await readyz(url)).status === 200, 20_000, '/readyz 200');
      expect(state.report).toEqual({ ready: true, checks: { started: 'ok', database: 'ok', queue: 'ok', stopping: 'ok' } });

      await proxy.cut();
      await waitFor(async () => (state = await readyz(url)).status === 503, 20_000, '/readyz 503 after the cut');
      expect(state.report?.ready).toBe(false);
      expect(state.report?.checks.database).toMatch(/^failing \(.+\)$|^no answer/);
      expect(state.report?.checks.queue).toBe('ok');
      expect(await get(`${url}/healthz`)).toEqual({ status: 200, body: 'ok\n' });

      await proxy.restore();
      await waitFor(async () => (state = await readyz(url)).status === 200, 20_000, '/readyz 200 after the restore');
      expect(state.report?.checks.database).toBe('ok');

      cli.child.kill('SIGTERM');
      const result = await cli.done;
      expect(result.code, result.stderr).toBe(0);
    } finally {
      if (cli && cli.child.exitCode === null) cli.child.kill('SIGKILL');
      await cli?.done;
      await proxy.close();
    }
  });
});

describe('the HTTP port', () => {
  it('already in use: one line naming the setting, exit 2', async () => {
    const queueUrl = await stack.newQueue();
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const result = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_HTTP_PORT: String(port) }), 20_000);
      expect(result.code, result.stderr).toBe(2);
      const lines = result.stderr.trim().split('\n').filter((line) => !line.startsWith('{'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^sqs2pg: cannot serve metrics and health on 127\.0\.0\.1:\d+ \(.*EADDRINUSE.*\); set --http-port \(SQS2PG_HTTP_PORT\)/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
