// The live progress line of a drain (run --drain, demo), fed by the event map. Only on a terminal:
// the caller decides (see progressWanted); output to a pipe or a file never gets it. Redrawn in
// place with a carriage return, cleared before the summary; colour unless NO_COLOR is set.
import type { EventBus } from './events.js';

export interface ProgressFigures {
  /** messages whose fate is committed: loaded, already loaded, or quarantined */
  done: number;
  quarantined: number;
  /** messages still in the queue (visible, in flight, delayed), estimated since the last depth poll */
  remaining: number | undefined;
  ratePerSec: number;
}

export interface ProgressStream {
  write(text: string): unknown;
  columns?: number;
}

const number = new Intl.NumberFormat('en-US');
const RATE_WINDOW_MS = 5_000;

/** The progress line as text; pure. */
export function formatProgress(figures: ProgressFigures, color: boolean): string {
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const parts = [
    `${paint('1', number.format(figures.done))} done`,
    figures.remaining === undefined ? 'queue depth unknown' : `${number.format(figures.remaining)} in queue`,
    `${number.format(Math.round(figures.ratePerSec))}/s`,
    figures.quarantined > 0 ? paint('33', `${number.format(figures.quarantined)} quarantined`) : '0 quarantined',
    `ETA ${eta(figures)}`,
  ];
  return `sqs2pg ${parts.join(paint('2', ' · '))}`;
}

function eta({ remaining, ratePerSec }: ProgressFigures): string {
  if (remaining === undefined || ratePerSec < 0.5) return '-';
  const seconds = Math.ceil(remaining / ratePerSec);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h ${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`;
}

/** Whether a progress line belongs on this stream: a terminal that can redraw, and not --quiet. */
export function progressWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, quiet: boolean): boolean {
  return !quiet && stream.isTTY === true && env.TERM !== 'dumb';
}

/** NO_COLOR (https://no-color.org): any non-empty value turns colour off. */
export function colorWanted(env: NodeJS.ProcessEnv): boolean {
  return !env.NO_COLOR;
}

export class ProgressLine {
  private done = 0;
  private quarantined = 0;
  private queued: { count: number; doneThen: number } | undefined;
  private readonly samples: { at: number; done: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    bus: EventBus,
    private readonly stream: ProgressStream,
    private readonly options: { color: boolean; intervalMs?: number; now?: () => number },
  ) {
    bus
      .on('batch:committed', ({ rows, duplicates, erased }) => (this.done += rows + duplicates + (erased ?? 0)))
      .on('message:quarantined', () => {
        this.done += 1;
        this.quarantined += 1;
      })
      .on('source:depth', ({ visible, inFlight, delayed }) => {
        this.queued = { count: visible + inFlight + delayed, doneThen: this.done };
      });
  }

  start(): void {
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
    this.samples.push({ at: now, done: this.done });
    while (this.samples.length > 2 && now - this.samples[0]!.at > RATE_WINDOW_MS) this.samples.shift();
    const oldest = this.samples[0]!;
    const spanSec = (now - oldest.at) / 1000;
    return {
      done: this.done,
      quarantined: this.quarantined,
      // The queue was counted a moment ago: what was done since then has left it.
      remaining: this.queued && Math.max(0, this.queued.count - (this.done - this.queued.doneThen)),
      ratePerSec: spanSec > 0 ? (this.done - oldest.done) / spanSec : 0,
    };
  }

  private draw(): void {
    const figures = this.figures();
    let line = formatProgress(figures, this.options.color);
    // A line longer than the terminal wraps, and a carriage return then redraws only its tail.
    const columns = this.stream.columns;
    if (columns !== undefined && columns > 0 && formatProgress(figures, false).length >= columns) {
      line = formatProgress(figures, false).slice(0, columns - 1);
    }
    this.stream.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }
}
