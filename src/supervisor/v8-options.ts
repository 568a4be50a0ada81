// sqs2pg's own V8 limits, so `run` stays small with Node's defaults. V8 grows its young generation
// to 16 MB semi-spaces, and lets the old generation grow to ~100 MB of garbage before its first full
// collection when its ceiling is the machine's (gigabytes), for a live heap of about 20 MB. A
// running process cannot change either ceiling (v8.setFlagsFromString comes too late), so `run`
// starts over with them: in place with process.execve where Node has it (22.15+, 23.11+; same pid,
// no second process), and as the supervisor's workers' options. Where Node cannot start over (20,
// 22 before 22.15), the process sets two growth rules instead, which V8 reads at every collection
// and so still takes after start. The operator's own options (NODE_OPTIONS or node's flags) win,
// one by one.
import { setFlagsFromString } from 'node:v8';

const MIB = 2 ** 20;
/** the old generation's ceiling beyond 3 × the bodies --max-in-flight-bytes allows in hand */
const OLD_SPACE_BASE_MB = 64;

/**
 * The young generation at 1 MB semi-spaces; the old generation's ceiling at 64 MB plus three times
 * --max-in-flight-bytes (208 MB with its default 48 MiB): a body held as a V8 string takes up to twice
 * its UTF-8 bytes, so the heap never needs more than that ceiling for the bodies the budget lets in.
 */
export function runV8Options(maxInFlightBytes: number): string[] {
  return ['--max-semi-space-size=1', `--max-old-space-size=${OLD_SPACE_BASE_MB + 3 * Math.ceil(maxInFlightBytes / MIB)}`];
}

const flagOf = (option: string) => option.split('=')[0]!.replace(/_/g, '-');

/** Those of `wanted` whose flag the operator has not given already. */
export function missingV8Options(wanted: readonly string[], execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map(flagOf));
  return wanted.filter((option) => !given.has(flagOf(option)));
}

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;
const execve = (process as { execve?: Execve }).execve;

/** Node can replace this process with itself under other options (22.15+, 23.11+). */
export function canRestartInPlace(): boolean {
  return typeof execve === 'function';
}

/** Replaces this process with the same command and `options` before node's own; false where Node cannot. */
export function restartInPlaceWith(options: readonly string[], env: NodeJS.ProcessEnv): boolean {
  if (execve === undefined || options.length === 0) return false;
  execve(process.execPath, [process.execPath, ...options, ...process.execArgv, ...process.argv.slice(1)], env);
  return true;
}

/**
 * For each start-up limit, the growth rule a running process can still set to much the same end:
 * semi-spaces stay at the size V8 starts them with (1 MB); the old generation is collected once it
 * holds twice what survived its last collection (V8's own rule lets it grow up to four times).
 */
const GROWTH_RULES: Readonly<Record<string, string>> = {
  '--max-semi-space-size': '--semi-space-growth-factor=1',
  '--max-old-space-size': '--heap-growing-percent=100',
};

/** Sets, in this running process, the growth rule of each of `options`. */
export function limitGrowthInPlace(options: readonly string[]): void {
  for (const option of options) {
    const rule = GROWTH_RULES[flagOf(option)];
    if (rule !== undefined) setFlagsFromString(rule);
  }
}
