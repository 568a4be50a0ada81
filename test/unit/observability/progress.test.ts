// The progress line: its text (pure), and what it writes to a terminal as events arrive.
import { describe, expect, it } from 'vitest';
import { EventBus, withPipeline } from '../../../src/observability/events.js';
import { colorWanted, formatProgress, progressWanted, ProgressLine } from '../../../src/observability/progress.js';

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/;

describe('formatProgress', () => {
  it.each([
    [{ done: 0, quarantined: 0, remaining: undefined, ratePerSec: 0 }, 'sqs2pg 0 done · queue depth unknown · 0/s · 0 quarantined · ETA -'],
    [{ done: 12345, quarantined: 3, remaining: 4000, ratePerSec: 1000 }, 'sqs2pg 12,345 done · 4,000 in queue · 1,000/s · 3 quarantined · ETA 4s'],
    [{ done: 1, quarantined: 0, remaining: 90_000, ratePerSec: 1000 }, 'sqs2pg 1 done · 90,000 in queue · 1,000/s · 0 quarantined · ETA 1m 30s'],
    [{ done: 1, quarantined: 0, remaining: 7_500_000, ratePerSec: 1000 }, 'sqs2pg 1 done · 7,500,000 in queue · 1,000/s · 0 quarantined · ETA 2h 05m'],
    [{ done: 5, quarantined: 0, remaining: 0, ratePerSec: 0.1 }, 'sqs2pg 5 done · 0 in queue · 0/s · 0 quarantined · ETA -'],
    [{ done: 100, quarantined: 0, remaining: 0, ratePerSec: 90 }, 'sqs2pg 100 done · 0 in queue · 90/s · 0 quarantined · ETA <1s'],
  ])('%o', (figures, expected) => {
    expect(formatProgress(figures, false)).toBe(expected);
  });

  it.each([
    [80, 'sqs2pg 12,345 done · 4,000 in queue · 1,000/s · 3 quarantined · ETA 4s'],
    [70, 'sqs2pg 12,345 done · 4,000 in queue · 1,000/s · ETA 4s'],
    [50, 'sqs2pg 12,345 done · 4,000 in queue · ETA 4s'],
    [40, 'sqs2pg 12,345 done · ETA 4s'],
    [25, '12,345 done · ETA 4s'],
    [12, 'ETA 4s'],
  ])('at %i columns: drops fields, never the ETA, and stays narrower', (columns, expected) => {
    const figures = { done: 12345, quarantined: 3, remaining: 4000, ratePerSec: 1000 };
    const line = formatProgress(figures, false, columns);
    expect(line).toBe(expected);
    expect(line.length).toBeLessThan(columns);
    // eslint-disable-next-line no-control-regex
    expect(formatProgress(figures, true, columns).replace(/\x1b\[[0-9;]*m/g, '')).toBe(expected);
  });

  it('colours only when asked', () => {
    const figures = { done: 10, quarantined: 2, remaining: 5, ratePerSec: 3 };
    expect(formatProgress(figures, true)).toMatch(SGR);
    expect(formatProgress(figures, false)).not.toMatch(SGR);
    expect(formatProgress(figures, true).replace(new RegExp(SGR, 'g'), '')).toBe(formatProgress(figures, false));
  });
});

describe('progressWanted and colorWanted', () => {
  it('wants a terminal that can redraw, and no --quiet', () => {
    expect(progressWanted({ isTTY: true }, {}, false)).toBe(true);
    expect(progressWanted({ isTTY: false }, {}, false)).toBe(false);
    expect(progressWanted({}, {}, false)).toBe(false);
    expect(progressWanted({ isTTY: true }, {}, true)).toBe(false);
    expect(progressWanted({ isTTY: true }, { TERM: 'dumb' }, false)).toBe(false);
  });

  // As Node's own console decides (FORCE_COLOR, then a terminal, NO_COLOR, NODE_DISABLE_COLORS, TERM),
  // the same on every supported Node: empty NO_COLOR/NODE_DISABLE_COLORS count as unset, as in Node 24.
  it.each([
    ['a terminal', { isTTY: true }, { TERM: 'xterm-256color' }, true],
    ['a pipe', { isTTY: false }, { TERM: 'xterm-256color' }, false],
    ['a stream that does not say', {}, { TERM: 'xterm' }, false],
    ['a terminal with NO_COLOR=1', { isTTY: true }, { TERM: 'xterm', NO_COLOR: '1' }, false],
    ['a terminal with NO_COLOR set empty, unset as no-color.org and Node 24 read it', { isTTY: true }, { TERM: 'xterm', NO_COLOR: '' }, true],
    ['a terminal with NODE_DISABLE_COLORS set empty, likewise', { isTTY: true }, { TERM: 'xterm', NODE_DISABLE_COLORS: '' }, true],
    ['a terminal with NODE_DISABLE_COLORS', { isTTY: true }, { TERM: 'xterm', NODE_DISABLE_COLORS: '1' }, false],
    ['a dumb terminal', { isTTY: true }, { TERM: 'dumb' }, false],
    ['a pipe with FORCE_COLOR=1', { isTTY: false }, { FORCE_COLOR: '1' }, true],
    ['a pipe with FORCE_COLOR set empty', { isTTY: false }, { FORCE_COLOR: '' }, true],
    ['a pipe with FORCE_COLOR=3', { isTTY: false }, { FORCE_COLOR: '3' }, true],
    ['a terminal with FORCE_COLOR=0', { isTTY: true }, { TERM: 'xterm', FORCE_COLOR: '0' }, false],
    ['a terminal with FORCE_COLOR=false', { isTTY: true }, { TERM: 'xterm', FORCE_COLOR: 'false' }, false],
    ['FORCE_COLOR=1 beside NO_COLOR: FORCE_COLOR wins, as in Node', { isTTY: false }, { FORCE_COLOR: '1', NO_COLOR: '1' }, true],
  ] as const)('colour on %s: %s', (_what, stream, env, expected) => {
    expect(colorWanted(stream, { ...env })).toBe(expected);
  });
});

describe('ProgressLine', () => {
  function setup(columns?: number) {
    const bus = new EventBus();
    const written: string[] = [];
    let now = 0;
    const line = new ProgressLine(bus, { write: (text: string) => written.push(text), columns }, { color: false, intervalMs: 60_000, now: () => now });
    return { bus, written, line, advance: (ms: number) => (now += ms) };
  }

  it('counts committed messages, estimates what is left since the last depth poll, and clears itself', () => {
    const { bus, written, line, advance } = setup();
    line.start();
    bus.emit('source:depth', { visible: 900, inFlight: 100, delayed: 0 });
    bus.emit('batch:committed', { rows: 300, duplicates: 50, quarantined: 0, durationMs: 5 });
    bus.emit('message:quarantined', { messageId: 'm', reason: 'not_json', field: null, receiveCount: 1 });
    advance(1000);
    expect(line.figures()).toEqual({ done: 351, quarantined: 1, remaining: 649, ratePerSec: 351 });
    line.stop();
    expect(written[0]).toBe('\rsqs2pg 0 done · queue depth unknown · 0/s · 0 quarantined · ETA -\x1b[K');
    expect(written.at(-1)).toBe('\r\x1b[K');
  });

  it('never writes a line as wide as the terminal (it would wrap and break the redraw), and keeps the ETA', () => {
    const { written, line } = setup(30);
    line.start();
    line.stop();
    expect(written[0]).toBe('\rsqs2pg 0 done · ETA -\x1b[K');
  });

  it('counts a message done but not yet deleted once, as done, not also as in the queue', () => {
    const { bus, line } = setup();
    // 250 messages: 200 committed, 50 of those not yet deleted when the queue is counted.
    bus.emit('batch:committed', { rows: 200, duplicates: 0, quarantined: 0, durationMs: 5 });
    bus.emit('source:deleted', { count: 150 });
    bus.emit('source:depth', { visible: 0, inFlight: 100, delayed: 0, deletedBefore: 150 });
    expect(line.figures().remaining).toBe(50);
    bus.emit('batch:committed', { rows: 50, duplicates: 0, quarantined: 0, durationMs: 5 });
    expect(line.figures()).toMatchObject({ done: 250, remaining: 0 });
    bus.emit('pipeline:drained', { durationMs: 1 });
    expect(line.figures().remaining).toBe(0);
  });

  it('writes nothing on stop when it never drew', () => {
    const { written, line } = setup();
    line.stop();
    expect(written).toEqual([]);
  });
});

describe('the progress line of several pipelines', () => {
  const figures = {
    done: 1322,
    quarantined: 3,
    remaining: 778,
    ratePerSec: 1000,
    pipelines: [
      { name: 'logins', done: 1234, remaining: 766 },
      { name: 'page_views', done: 88, remaining: 12 },
    ],
  };

  it('names each pipeline with what it has done of what it had, then the run as one', () => {
    expect(formatProgress(figures, false)).toBe('sqs2pg logins 1,234/2,000 · page_views 88/100 · 1,000/s · 3 quarantined · ETA 1s');
    expect(formatProgress({ ...figures, remaining: undefined, pipelines: [figures.pipelines[0]!, { name: 'page_views', done: 0, remaining: undefined }] }, false)).toBe(
      'sqs2pg logins 1,234/2,000 · page_views 0/? · 1,000/s · 3 quarantined · ETA -',
    );
    expect(formatProgress(figures, true).replace(new RegExp(SGR, 'g'), '')).toBe(formatProgress(figures, false));
  });

  it('with one pipeline, is the line of a run without a file', () => {
    const one = { done: 12345, quarantined: 3, remaining: 4000, ratePerSec: 1000 };
    expect(formatProgress({ ...one, pipelines: [{ name: 'logins', done: 12345, remaining: 4000 }] }, false)).toBe(formatProgress(one, false));
  });

  it.each([
    [90, 'sqs2pg logins 1,234/2,000 · page_views 88/100 · 1,000/s · 3 quarantined · ETA 1s'],
    [80, 'sqs2pg logins 1,234/2,000 · page_views 88/100 · 1,000/s · ETA 1s'],
    [60, 'sqs2pg logins 1,234/2,000 · page_views 88/100 · ETA 1s'],
    [50, 'sqs2pg 1,322 done · ETA 1s'],
    [22, '1,322 done · ETA 1s'],
    [10, 'ETA 1s'],
  ])('at %i columns: drops the quarantined count, the rate, then the pipelines for the run\'s count', (columns, expected) => {
    const line = formatProgress(figures, false, columns);
    expect(line).toBe(expected);
    expect(line.length).toBeLessThan(columns);
  });

  function setup(pipelines?: readonly string[]) {
    const bus = new EventBus();
    const written: string[] = [];
    let now = 0;
    const line = new ProgressLine(bus, { write: (text: string) => written.push(text) }, { color: false, intervalMs: 60_000, now: () => now, pipelines });
    return { bus, written, line, advance: (ms: number) => (now += ms) };
  }

  it('counts each pipeline from the events that name it, and the run from all', () => {
    const { bus, line, advance } = setup(['logins', 'page_views']);
    const logins = withPipeline(bus.emit, 'logins');
    const pageViews = withPipeline(bus.emit, 'page_views');
    logins('source:depth', { visible: 1900, inFlight: 100, delayed: 0 });
    expect(line.figures()).toMatchObject({ remaining: undefined, pipelines: [{ name: 'logins', done: 0, remaining: 2000 }, { name: 'page_views', done: 0, remaining: undefined }] });
    pageViews('source:depth', { visible: 100, inFlight: 0, delayed: 0 });
    logins('batch:committed', { rows: 1200, duplicates: 30, quarantined: 0, erased: 4, durationMs: 5 });
    pageViews('batch:committed', { rows: 87, duplicates: 0, quarantined: 1, durationMs: 5 });
    pageViews('message:quarantined', { messageId: 'm', reason: 'missing_field', field: 'page.url', receiveCount: 1 });
    advance(1000);
    expect(line.figures()).toEqual({
      done: 1322,
      quarantined: 1,
      remaining: 778,
      ratePerSec: 1322,
      pipelines: [
        { name: 'logins', done: 1234, remaining: 766 },
        { name: 'page_views', done: 88, remaining: 12 },
      ],
    });
    pageViews('pipeline:drained', { durationMs: 1 });
    expect(line.figures().pipelines).toEqual([
      { name: 'logins', done: 1234, remaining: 766 },
      { name: 'page_views', done: 88, remaining: 0 },
    ]);
    // A batch no pipeline claims is the run's: done, in no pipeline's share.
    bus.emit('batch:committed', { rows: 10, duplicates: 0, quarantined: 0, durationMs: 5 });
    expect(line.figures()).toMatchObject({ done: 1332, remaining: 766 });
    // The run's own drain empties every queue.
    bus.emit('pipeline:drained', { durationMs: 1 });
    expect(line.figures()).toMatchObject({ remaining: 0, pipelines: [{ name: 'logins', remaining: 0 }, { name: 'page_views', remaining: 0 }] });
  });

  it('draws the names on the line, and starts once however many pipelines say they started', () => {
    const { bus, written, line } = setup(['logins', 'page_views']);
    line.start();
    line.start();
    withPipeline(bus.emit, 'logins')('source:depth', { visible: 5, inFlight: 0, delayed: 0 });
    line.stop();
    expect(written).toEqual(['\rsqs2pg logins 0/? · page_views 0/? · 0/s · 0 quarantined · ETA -\x1b[K', '\r\x1b[K']);
  });

  it('with one pipeline, named or not, draws the line of a run without a file', () => {
    const { bus, line } = setup();
    withPipeline(bus.emit, 'logins')('source:depth', { visible: 900, inFlight: 100, delayed: 0 });
    bus.emit('batch:committed', { rows: 300, duplicates: 50, quarantined: 0, durationMs: 5 });
    expect(line.figures()).toEqual({ done: 350, quarantined: 0, remaining: 650, ratePerSec: 0 });
  });
});
