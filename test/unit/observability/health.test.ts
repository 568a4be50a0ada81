// Readiness from the events and a database check: every way it is not ready, and back.
import { describe, expect, it } from 'vitest';
import { EventBus, withPipeline } from '../../../src/observability/events.js';
import { Readiness } from '../../../src/observability/health.js';

function setup() {
  const bus = new EventBus();
  let database: () => Promise<void> = () => Promise.resolve();
  const readiness = new Readiness(bus, { checkDatabase: () => database(), timeoutMs: 50 });
  return { bus, readiness, setDatabase: (check: () => Promise<void>) => (database = check) };
}

describe('Readiness', () => {
  it('is not ready while starting, ready once the pipeline runs', async () => {
    const { bus, readiness } = setup();
    expect((await readiness.report()).ready).toBe(false);
    expect((await readiness.report()).checks.started).toMatch(/^starting/);
    bus.emit('pipeline:started', { pollers: 1 });
    expect(await readiness.report()).toEqual({ ready: true, checks: { started: 'ok', database: 'ok', queue: 'ok', stopping: 'ok' } });
  });

  it('follows the database check, including one that never answers', async () => {
    const { bus, readiness, setDatabase } = setup();
    bus.emit('pipeline:started', { pollers: 1 });
    setDatabase(() => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')));
    expect((await readiness.report()).checks.database).toBe('failing (connect ECONNREFUSED 127.0.0.1:5432)');
    setDatabase(() => new Promise(() => undefined));
    const hung = await readiness.report();
    expect(hung.ready).toBe(false);
    expect(hung.checks.database).toBe('no answer within 50 ms');
    setDatabase(() => Promise.resolve());
    expect((await readiness.report()).ready).toBe(true);
  });

  it('follows SQS: the latest receive and depth poll must both have succeeded', async () => {
    const { bus, readiness } = setup();
    bus.emit('pipeline:started', { pollers: 1 });
    bus.emit('source:error', { operation: 'receive', code: 'ECONNREFUSED', message: 'x', retryInMs: 100 });
    expect((await readiness.report()).checks.queue).toBe('failing (ECONNREFUSED)');
    bus.emit('source:depth', { visible: 0, inFlight: 0, delayed: 0 });
    expect((await readiness.report()).ready).toBe(false);
    bus.emit('source:received', { count: 0, redelivered: 0 });
    expect((await readiness.report()).ready).toBe(true);
    bus.emit('source:error', { operation: 'depth', code: 'AccessDenied', message: 'x', retryInMs: null });
    expect((await readiness.report()).checks.queue).toBe('failing (AccessDenied)');
    // A failed delete does not make the worker unready: redelivery covers it.
    bus.emit('source:depth', { visible: 0, inFlight: 0, delayed: 0 });
    bus.emit('source:error', { operation: 'delete', code: 'InternalError', message: 'x', retryInMs: null });
    expect((await readiness.report()).ready).toBe(true);
  });

  it('is not ready once shutting down', async () => {
    const { bus, readiness } = setup();
    bus.emit('pipeline:started', { pollers: 1 });
    bus.emit('pipeline:stopping', { reason: 'received SIGTERM', inFlight: 3 });
    expect(await readiness.report()).toEqual({
      ready: false,
      checks: { started: 'ok', database: 'ok', queue: 'ok', stopping: 'shutting down (received SIGTERM)' },
    });
  });
});

describe('Readiness of several pipelines', () => {
  it('is ready only when every pipeline\'s queue answers, and names the one that does not', async () => {
    const bus = new EventBus();
    const readiness = new Readiness(bus, { checkDatabase: () => Promise.resolve(), pipelines: ['logins', 'page_views'] });
    const logins = withPipeline(bus.emit, 'logins');
    const pageViews = withPipeline(bus.emit, 'page_views');
    bus.emit('pipeline:started', { pollers: 2 });
    logins('source:received', { count: 0, redelivered: 0 });
    expect((await readiness.report()).ready).toBe(true);
    pageViews('source:error', { operation: 'receive', code: 'AccessDenied', message: 'x', retryInMs: 100 });
    // Another queue answering says nothing of this one.
    logins('source:received', { count: 3, redelivered: 0 });
    logins('source:depth', { visible: 0, inFlight: 0, delayed: 0 });
    expect(await readiness.report()).toMatchObject({ ready: false, checks: { queue: 'failing (page_views: AccessDenied)' } });
    logins('source:error', { operation: 'depth', code: 'ECONNRESET', message: 'x', retryInMs: null });
    expect((await readiness.report()).checks.queue).toBe('failing (logins: ECONNRESET, page_views: AccessDenied)');
    pageViews('source:received', { count: 0, redelivered: 0 });
    logins('source:depth', { visible: 0, inFlight: 0, delayed: 0 });
    expect((await readiness.report()).ready).toBe(true);
  });

  it('with one pipeline, says what fails as a run without a file does', async () => {
    const bus = new EventBus();
    const readiness = new Readiness(bus, { checkDatabase: () => Promise.resolve() });
    bus.emit('pipeline:started', { pollers: 1 });
    withPipeline(bus.emit, 'logins')('source:error', { operation: 'receive', code: 'ECONNREFUSED', message: 'x', retryInMs: 100 });
    expect((await readiness.report()).checks.queue).toBe('failing (ECONNREFUSED)');
    bus.emit('source:received', { count: 0, redelivered: 0 });
    expect((await readiness.report()).ready).toBe(true);
  });

  it('has started once every pipeline has, or once the run says so', async () => {
    const bus = new EventBus();
    const readiness = new Readiness(bus, { checkDatabase: () => Promise.resolve(), pipelines: ['logins', 'page_views'] });
    withPipeline(bus.emit, 'logins')('pipeline:started', { pollers: 1 });
    expect(await readiness.report()).toMatchObject({ ready: false, checks: { started: 'starting: page_views not started yet', queue: 'not checked' } });
    withPipeline(bus.emit, 'page_views')('pipeline:started', { pollers: 1 });
    expect((await readiness.report()).ready).toBe(true);

    const run = new EventBus();
    const whole = new Readiness(run, { checkDatabase: () => Promise.resolve(), pipelines: ['logins', 'page_views'] });
    run.emit('pipeline:started', { pollers: 2 });
    expect((await whole.report()).ready).toBe(true);

    // Not told the run's pipelines: one it does not know of starting is the run starting.
    const untold = new EventBus();
    const unknowing = new Readiness(untold, { checkDatabase: () => Promise.resolve() });
    withPipeline(untold.emit, 'page_views')('pipeline:started', { pollers: 1 });
    expect((await unknowing.report()).ready).toBe(true);
  });

  it('stays ready while the other pipelines work after one has drained; not once one stops for any other reason', async () => {
    const bus = new EventBus();
    const readiness = new Readiness(bus, { checkDatabase: () => Promise.resolve(), pipelines: ['logins', 'page_views'] });
    bus.emit('pipeline:started', { pollers: 2 });
    withPipeline(bus.emit, 'page_views')('pipeline:stopping', { reason: 'drained', inFlight: 0 });
    expect(await readiness.report()).toMatchObject({ ready: true, checks: { stopping: 'ok' } });
    withPipeline(bus.emit, 'logins')('pipeline:stopping', { reason: 'drained', inFlight: 0 });
    expect(await readiness.report()).toMatchObject({ ready: false, checks: { stopping: 'shutting down (drained)' } });

    const failing = new EventBus();
    const stopping = new Readiness(failing, { checkDatabase: () => Promise.resolve(), pipelines: ['logins', 'page_views'] });
    failing.emit('pipeline:started', { pollers: 2 });
    withPipeline(failing.emit, 'logins')('pipeline:stopping', { reason: 'received SIGTERM', inFlight: 1 });
    expect(await stopping.report()).toMatchObject({ ready: false, checks: { stopping: 'shutting down (received SIGTERM)' } });
  });
});
