// What `run` starts beside a run of several pipelines (commands/observers.ts), on a real port and a
// real, migrated database: /metrics has every pipeline's series from the start and labels each
// pipeline's events with its name; /readyz names the pipeline whose queue fails. The pipelines'
// events are fed through withPipeline as each pipeline of a run emits them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startObservers, type Observers } from '../../src/commands/observers.js';
import { freePort } from '../../src/local/free-port.js';
import { EventBus, withPipeline } from '../../src/observability/events.js';
import { get, sample } from '../helpers/http.js';
import { createTestStack, migrateWithCli, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let observers: Observers | undefined;
const bus = new EventBus();
let url = '';

beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  const port = await freePort();
  observers = await startObservers({ bus, pool: stack.pool, httpHost: '127.0.0.1', httpPort: port, progress: undefined, pipelines: ['logins', 'page_views'] });
  url = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await observers?.close();
  await stack.close();
});

describe('the observers of a run of two pipelines', () => {
  it('serve every pipeline\'s series from the start, each counted from its own events', async () => {
    const before = (await get(`${url}/metrics`)).body;
    for (const name of ['logins', 'page_views']) {
      expect(sample(before, `sqs2pg_received_messages_total{pipeline="${name}"}`), name).toBe(0);
      expect(sample(before, `sqs2pg_quarantined_messages_total{pipeline="${name}",reason="missing_field"}`), name).toBe(0);
    }
    withPipeline(bus.emit, 'page_views')('source:received', { count: 7, redelivered: 1 });
    withPipeline(bus.emit, 'page_views')('message:quarantined', { messageId: 'm', reason: 'missing_field', field: 'page.url', receiveCount: 1 });
    withPipeline(bus.emit, 'logins')('source:received', { count: 2, redelivered: 0 });
    const after = (await get(`${url}/metrics`)).body;
    expect(sample(after, 'sqs2pg_received_messages_total{pipeline="page_views"}')).toBe(7);
    expect(sample(after, 'sqs2pg_received_messages_total{pipeline="logins"}')).toBe(2);
    expect(sample(after, 'sqs2pg_quarantined_messages_total{pipeline="page_views",reason="missing_field"}')).toBe(1);
    expect(sample(after, 'sqs2pg_quarantined_messages_total{pipeline="logins",reason="missing_field"}')).toBe(0);
  });

  it('are ready when every pipeline\'s queue answers, and name the one that does not', async () => {
    bus.emit('pipeline:started', { pollers: 2 });
    const ready = await get(`${url}/readyz`);
    expect(ready.status, ready.body).toBe(200);
    withPipeline(bus.emit, 'page_views')('source:error', { operation: 'receive', code: 'AccessDenied', message: 'denied', retryInMs: 1000 });
    withPipeline(bus.emit, 'logins')('source:received', { count: 1, redelivered: 0 });
    const failing = await get(`${url}/readyz`);
    expect(failing.status).toBe(503);
    expect((JSON.parse(failing.body) as { checks: { queue: string } }).checks.queue).toBe('failing (page_views: AccessDenied)');
  });
});
