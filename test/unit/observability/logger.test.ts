// The log lines a person sees on a terminal, and the quarantine summed up instead of one line each.
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { EventBus, withPipeline } from '../../../src/observability/events.js';
import { logEvents, prettyLine, resolveLogFormat } from '../../../src/observability/logger.js';

function capture(level = 'info') {
  const lines: { level: number; msg: string; pipeline?: string; count?: number; byReason?: Record<string, number> }[] = [];
  // A plain object stream: pino writes to it synchronously.
  const stream = { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) };
  return { logger: pino({ level }, stream), lines };
}

describe('resolveLogFormat', () => {
  it('auto: pretty on a terminal, JSON elsewhere; an explicit format wins', () => {
    expect(resolveLogFormat('auto', { isTTY: true })).toBe('pretty');
    expect(resolveLogFormat('auto', { isTTY: false })).toBe('json');
    expect(resolveLogFormat('auto', {})).toBe('json');
    expect(resolveLogFormat('json', { isTTY: true })).toBe('json');
    expect(resolveLogFormat('pretty', {})).toBe('pretty');
  });
});

describe('prettyLine', () => {
  it('time, level and message; colour only when asked', () => {
    const time = new Date(2026, 0, 2, 3, 4, 5).getTime();
    const json = JSON.stringify({ level: 40, time, name: 'sqs2pg', msg: 'SQS receive failed: boom', code: 'X' });
    expect(prettyLine(json, false)).toBe('03:04:05 WARN  SQS receive failed: boom');
    expect(prettyLine(json, true)).toBe('03:04:05 \x1b[33mWARN \x1b[0m SQS receive failed: boom');
  });
});

describe('logEvents', () => {
  it('sums quarantined and released messages up at info, one line each only at debug', () => {
    vi.useFakeTimers();
    try {
      const { logger, lines } = capture('info');
      const bus = new EventBus();
      const logs = logEvents(bus, logger);
      for (let i = 0; i < 30; i++) bus.emit('message:quarantined', { messageId: `m${i}`, reason: i < 20 ? 'not_json' : 'missing_field', field: null, receiveCount: 1 });
      bus.emit('source:released', { count: 10 });
      bus.emit('source:released', { count: 4 });
      expect(lines).toEqual([]);
      vi.advanceTimersByTime(10_000);
      expect(lines.map((line) => line.msg)).toEqual([
        'released 14 messages back to the queue',
        'quarantined 30 messages (not_json 20, missing_field 10); see sqs2pg.quarantine',
      ]);
      expect(lines[1]).toMatchObject({ count: 30, byReason: { not_json: 20, missing_field: 10 } });
      bus.emit('message:quarantined', { messageId: 'm', reason: 'not_json', field: null, receiveCount: 1 });
      logs.flush();
      expect(lines.at(-1)?.msg).toBe('quarantined 1 message (not_json 1); see sqs2pg.quarantine');
    } finally {
      vi.useRealTimers();
    }
  });

  it('at debug, each quarantined message has its own line too', () => {
    const { logger, lines } = capture('debug');
    const bus = new EventBus();
    logEvents(bus, logger).flush();
    bus.emit('message:quarantined', { messageId: 'm', reason: 'not_json', field: null, receiveCount: 1 });
    expect(lines.map((line) => line.msg)).toEqual(['quarantined: not_json']);
  });
});

describe('logEvents of several pipelines', () => {
  it('names the pipeline in each JSON line and, in a run of several, at the start of its message', () => {
    const { logger, lines } = capture('debug');
    const bus = new EventBus();
    logEvents(bus, logger, { pipelines: ['logins', 'page_views'] });
    withPipeline(bus.emit, 'page_views')('source:error', { operation: 'receive', code: 'ECONNRESET', message: 'socket hang up', retryInMs: 100 });
    bus.emit('sink:retry', { attempt: 1, delayMs: 100, code: '08006', message: 'connection lost' });
    expect(lines).toMatchObject([
      { level: 40, pipeline: 'page_views', msg: 'page_views: SQS receive failed: socket hang up' },
      { level: 40, msg: 'PostgreSQL write failed (connection lost); retry 1 in 100 ms' },
    ]);
    expect(lines[1]).not.toHaveProperty('pipeline');
  });

  it('in a run of one pipeline, keeps the name in the JSON only: the messages read as without a file', () => {
    const { logger, lines } = capture('debug');
    const bus = new EventBus();
    logEvents(bus, logger);
    withPipeline(bus.emit, 'logins')('source:error', { operation: 'receive', code: 'ECONNRESET', message: 'socket hang up', retryInMs: 100 });
    expect(lines).toMatchObject([{ pipeline: 'logins', msg: 'SQS receive failed: socket hang up' }]);
  });

  it('sums the quarantine up per pipeline', () => {
    const { logger, lines } = capture('info');
    const bus = new EventBus();
    const logs = logEvents(bus, logger, { pipelines: ['logins', 'page_views'] });
    const logins = withPipeline(bus.emit, 'logins');
    const pageViews = withPipeline(bus.emit, 'page_views');
    for (let i = 0; i < 3; i++) logins('message:quarantined', { messageId: `l${i}`, reason: 'bad_ip', field: 'ip', receiveCount: 1 });
    pageViews('message:quarantined', { messageId: 'p', reason: 'missing_field', field: 'page.url', receiveCount: 1 });
    pageViews('source:released', { count: 2 });
    logs.flush();
    expect(lines.map((line) => line.msg)).toEqual([
      'logins: quarantined 3 messages (bad_ip 3); see sqs2pg.quarantine',
      'page_views: released 2 messages back to the queue',
      'page_views: quarantined 1 message (missing_field 1); see sqs2pg.quarantine',
    ]);
    expect(lines[0]).toMatchObject({ pipeline: 'logins', count: 3, byReason: { bad_ip: 3 } });
    expect(lines[2]).toMatchObject({ pipeline: 'page_views', count: 1, byReason: { missing_field: 1 } });
  });
});
