// The live progress line of a drain (run --drain, demo), fed by the event map. Only on a terminal:
// the caller decides (see progressWanted); output to a pipe or a file never gets it. Redrawn in
// place with a carriage return, cleared before the summary; coloured as colorWanted says.
import { WriteStream } from 'node:tty';
import type { EventBus } from './events.js';
import { DEFAULT_PIPELINES, pipelineOf } from './pipeline-of.js';

export interface ProgressFigures {
  /** messages whose fate is committed: loaded, already loaded, erased, or quarantined */
  done: number;
  quarantined: number;
  /** messages still in the queue (visible, in flight, delayed), estimated since the last depth poll */
  remaining: number | undefined;
  ratePerSec: number;
  /** each pipeline's share, when the run has more than one (the line then names them) */
  pipelines?: PipelineProgress[];
}

export interface PipelineProgress {
  name: string;
  done: number;
  /** undefined until its queue is first counted */
  remaining: number | undefined;
}

export interface ProgressStream {
  write(text: string): unknown;
  columns?: number;
}

const number = new Intl.NumberFormat('en-US');
const RATE_WINDOW_MS = 5_000;

interface Part {
  plain: string;
  /** the coloured text, when it differs */
  shown?: string;
}

/**
 * The progress line as text; pure. One pipeline: "sqs2pg 12,345 done · 4,000 in queue · …"; several:
 * each named with what it has done of what it had ("logins 1,234/2,000 · page_views 88/100 · …"),
 * then the run's rate, quarantined count and ETA. Given `columns`, it stays shorter than the terminal:
 * it drops the least useful fields first (quarantined, then the rate, then the queue or the
 * pipelines, for the run's done count) and keeps the ETA.
 */
export function formatProgress(figures: ProgressFigures, color: boolean, columns?: number): string {
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const done: Part = { plain: `${number.format(figures.done)} done`, shown: `${paint('1', number.format(figures.done))} done` };
  const several = (figures.pipelines?.length ?? 0) > 1;
  const main: Part[] = several
    ? figures.pipelines!.map((pipeline) => {
        const of = pipeline.remaining === undefined ? '?' : number.format(pipeline.done + pipeline.remaining);
        return { plain: `${pipeline.name} ${number.format(pipeline.done)}/${of}`, shown: `${pipeline.name} ${paint('1', number.format(pipeline.done))}/${of}` };
      })
    : [done, { plain: figures.remaining === undefined ? 'queue depth unknown' : `${number.format(figures.remaining)} in queue` }];
  const rate: Part = { plain: `${number.format(Math.round(figures.ratePerSec))}/s` };
  const quarantined = `${number.format(figures.quarantined)} quarantined`;
  const quarantine: Part = { plain: quarantined, ...(figures.quarantined > 0 ? { shown: paint('33', quarantined) } : {}) };
  const etaPart: Part = { plain: `ETA ${eta(figures)}` };
  // From the fullest to the shortest; the first that fits is drawn.
  const choices: Part[][] = [[...main, rate, quarantine, etaPart], [...main, rate, etaPart], [...main, etaPart], [done, etaPart]];
  const render = (kept: Part[], prefix: string, plain: boolean) =>
    `${prefix}${kept.map((part) => (plain ? part.plain : (part.shown ?? part.plain))).join(plain ? ' · ' : paint('2', ' · '))}`;
  // One column short of the width: writing the last column makes some terminals wrap.
  const fits = (kept: Part[], prefix: string) => columns === undefined || columns <= 0 || render(kept, prefix, true).length < columns;
  const kept = choices.find((choice) => fits(choice, 'sqs2pg ')) ?? choices.at(-1)!;
  if (fits(kept, 'sqs2pg ')) return render(kept, 'sqs2pg ', false);
  if (fits(kept, '')) return render(kept, '', false);
  // Narrower than "N done · ETA x": the ETA alone, cut to the width.
  return `ETA ${eta(figures)}`.slice(0, Math.max(1, (columns ?? 1) - 1));
}

/** The demo's line while it fills the queue: "sqs2pg sending 12,000 of 50,000 sample messages". */
export function formatSending(sent: number, total: number, columns?: number, what = 'sample messages'): string {
  const full = `sqs2pg sending ${number.format(sent)} of ${number.format(total)} ${what}`;
  if (columns === undefined || columns <= 0 || full.length < columns) return full;
  return `${number.format(sent)} of ${number.format(total)} sent`.slice(0, Math.max(1, columns - 1));
}

/** Redraws a line in place, at most every `intervalMs`; `done` clears it. */
export function throttledLine(stream: ProgressStream, intervalMs = 250): { draw(text: string, force?: boolean): void; done(): void } {
  let last = -Infinity;
  let drawn = false;
  return {
    draw(text, force = false) {
      const now = performance.now();
      if (!force && now - last < intervalMs) return;
      last = now;
      stream.write(`\r${text}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}

function eta({ remaining, ratePerSec }: ProgressFigures): string {
  if (remaining === undefined || ratePerSec < 0.5) return '-';
  // Nothing left by the last count: the drain is checking the queue is empty (it then ends at once,
  // or goes on with what another consumer or a delay held back), not done.
  if (remaining === 0) return '<1s';
  const seconds = Math.ceil(remaining / ratePerSec);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h ${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`;
}

/** Whether a progress line belongs on this stream: a terminal that can redraw, and not --quiet. */
export function progressWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, quiet: boolean): boolean {
  return !quiet && stream.isTTY === true && env.TERM !== 'dumb';
}

/**
 * Colour as Node's own console decides it (lib/internal/util/colors.js, shouldColorize): with
 * FORCE_COLOR set, whatever it asks for (0 or false: none), even in a pipe; otherwise only on a
 * terminal, and not with NO_COLOR, NODE_DISABLE_COLORS or TERM=dumb. Those two are read as
 * no-color.org defines NO_COLOR (set and not empty), as Node 24 does; Node 20 and 22 also count
 * them set empty, so they are read here rather than left to the running Node's getColorDepth,
 * which reads the terminal from `env` rather than the process's.
 */
export function colorWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  // Node's own reading of FORCE_COLOR, without the process warning getColorDepth emits when
  // NO_COLOR is set beside it.
  if (env.FORCE_COLOR !== undefined) return ['', '1', 'true', '2', '3'].includes(env.FORCE_COLOR);
  if (stream.isTTY !== true || (env.NO_COLOR ?? '') !== '' || (env.NODE_DISABLE_COLORS ?? '') !== '') return false;
  const terminal = { ...env, NO_COLOR: undefined, NODE_DISABLE_COLORS: undefined };
  return WriteStream.prototype.getColorDepth.call(stream, terminal) > 2;
}

/** One pipeline's counts (or, in a run of several, those of events that named none). */
interface Tally {
  done: number;
  quarantined: number;
  deleted: number;
  queued: { count: number; deletedThen: number } | undefined;
}

export interface ProgressLineOptions {
  color: boolean;
  intervalMs?: number;
  now?: () => number;
  /** the run's pipelines, named on the line when there are several (default: logins, a run without a file) */
  pipelines?: readonly string[];
}

export class ProgressLine {
  private readonly pipelines: readonly string[];
  /** by pipeline name; '' for events of a run of several that named none */
  private readonly tallies = new Map<string, Tally>();
  private readonly samples: { at: number; done: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    bus: EventBus,
    private readonly stream: ProgressStream,
    private readonly options: ProgressLineOptions,
  ) {
    this.pipelines = options.pipelines ?? DEFAULT_PIPELINES;
    for (const name of this.pipelines) this.tallyOf({ pipeline: name });
    bus
      .on('batch:committed', (event) => (this.tallyOf(event).done += event.rows + event.duplicates + (event.erased ?? 0)))
      .on('message:quarantined', (event) => {
        const tally = this.tallyOf(event);
        tally.done += 1;
        tally.quarantined += 1;
      })
      .on('source:deleted', (event) => (this.tallyOf(event).deleted += event.count))
      .on('source:depth', (event) => {
        const tally = this.tallyOf(event);
        tally.queued = { count: event.visible + event.inFlight + event.delayed, deletedThen: event.deletedBefore ?? tally.deleted };
      })
      .on('pipeline:drained', (event) => {
        // A pipeline's own drain empties its queue; the run's (named by none of several) every queue.
        const drained = pipelineOf(event, this.pipelines) === undefined ? [...this.tallies.values()] : [this.tallyOf(event)];
        for (const tally of drained) tally.queued = { count: 0, deletedThen: tally.done };
      });
  }

  /** Draws now and on an interval; once, however many pipelines say they started. */
  start(): void {
    if (this.timer) return;
    this.draw();
    this.timer = setInterval(() => this.draw(), this.options.intervalMs ?? 250);
    this.timer.unref();
  }

  /** Clears the line, so what is printed next starts at the left margin. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  figures(): ProgressFigures {
    const now = this.options.now ? this.options.now() : performance.now();
    const tallies = [...this.tallies.values()];
    const done = tallies.reduce((sum, tally) => sum + tally.done, 0);
    this.samples.push({ at: now, done });
    while (this.samples.length > 2 && now - this.samples[0]!.at > RATE_WINDOW_MS) this.samples.shift();
    const oldest = this.samples[0]!;
    const spanSec = (now - oldest.at) / 1000;
    const named = [...this.tallies].filter(([name]) => name !== '');
    // What named no pipeline has no queue of its own unless one was counted: it is done, its queue the others'.
    const counted = [...this.tallies].filter(([name, tally]) => name !== '' || tally.queued !== undefined).map(([, tally]) => tally);
    const remaining = counted.every((tally) => tally.queued) ? counted.reduce((sum, tally) => sum + remainingNow(tally.queued!, tally.done), 0) : undefined;
    return {
      done,
      quarantined: tallies.reduce((sum, tally) => sum + tally.quarantined, 0),
      remaining,
      ratePerSec: spanSec > 0 ? (done - oldest.done) / spanSec : 0,
      ...(named.length > 1
        ? { pipelines: named.map(([name, tally]) => ({ name, done: tally.done, remaining: tally.queued && remainingNow(tally.queued, tally.done) })) }
        : {}),
    };
  }

  private tallyOf(payload: { pipeline?: string }): Tally {
    const name = pipelineOf(payload, this.pipelines) ?? '';
    let tally = this.tallies.get(name);
    if (!tally) {
      tally = { done: 0, quarantined: 0, deleted: 0, queued: undefined };
      this.tallies.set(name, tally);
    }
    return tally;
  }

  private draw(): void {
    // A line longer than the terminal wraps, and a carriage return then redraws only its tail.
    const line = formatProgress(this.figures(), this.options.color, this.stream.columns);
    this.stream.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }
}

/**
 * What is still in the queue now. The queue was counted a moment ago; what this run had deleted
 * before it asked is not in that count, and everything else it has done since it started (done,
 * but not deleted yet, or done since) is: subtracting it never counts a message twice.
 */
function remainingNow(queued: { count: number; deletedThen: number }, done: number): number {
  return Math.max(0, queued.count - Math.max(0, done - queued.deletedThen));
}
