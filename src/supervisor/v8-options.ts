// sqs2pg's own V8 limits, so `run` stays small with Node's defaults. V8 grows its young generation
// to 16 MB semi-spaces, and lets the old generation grow to ~100 MB of garbage before its first full
// collection when its ceiling is the machine's (gigabytes), for a live heap of about 20 MB. A
// running process cannot change either ceiling (v8.setFlagsFromString comes too late), so `run`
// starts over with them: in place with process.execve where Node has it (22.15+, 23.11+; same pid,
// no second process), and as the supervisor's workers' options; either way with glibc's mmap
// threshold fixed (restartEnv, mallocEnv). Where Node cannot start over (20, 22 before 22.15),
// the process sets two growth rules instead, which V8 reads at every collection
// and so still takes after start. The operator's own options (NODE_OPTIONS or node's flags) win,
// one by one. While the byte budget holds much (a burst of large bodies) the old generation's growth
// rule is tightened, on every Node (growthWhileHeavy).
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

/**
 * Replaces this process with the same command and `options` before node's own; false where Node
 * cannot. With glibc's mmap threshold fixed (restartEnv).
 */
export function restartInPlaceWith(options: readonly string[], env: NodeJS.ProcessEnv): boolean {
  if (execve === undefined || options.length === 0) return false;
  execve(process.execPath, [process.execPath, ...options, ...process.execArgv, ...process.argv.slice(1)], restartEnv(env));
  return true;
}

/**
 * `env` with glibc's mmap threshold fixed at its initial 128 KiB, unless the operator set it: by its
 * own rule glibc raises the threshold to the size of each large block freed (up to 32 MiB), after
 * which 1-10 MiB answers and bodies come from its heap, and their freed pages stay resident (a
 * hostile burst on Node 24: 210-215 MB, 186-190 with it fixed). musl (the image) ignores it.
 */
export function restartEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, ...mallocEnv(env) };
}

/**
 * What restartEnv adds to `env`: for a supervisor's workers, which start with it and otherwise
 * kept glibc's own rule (cluster.fork adds it to the supervisor's environment).
 */
export function mallocEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.MALLOC_MMAP_THRESHOLD_ === undefined ? { MALLOC_MMAP_THRESHOLD_: String(128 * 1024) } : {};
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

/** The old generation's growth rule in force when the byte budget is not heavy (0: V8's own). */
let restingGrowingPercent = 0;

/** Sets, in this running process, the growth rule of each of `options`. */
export function limitGrowthInPlace(options: readonly string[]): void {
  for (const option of options) {
    const rule = GROWTH_RULES[flagOf(option)];
    if (rule === undefined) continue;
    setFlagsFromString(rule);
    if (flagOf(rule) === '--heap-growing-percent') restingGrowingPercent = Number(rule.split('=')[1]);
  }
}

/**
 * While the byte budget is heavy, a full collection once the old generation holds 30% more than
 * survived the last: a hostile burst on Node 20 peaked at 170-187 MB so, 208-214 MB at rest's 100%.
 */
const HEAVY_GROWING_PERCENT = 30;

/**
 * The old generation's growth rule, to follow the byte budget with (ByteBudget.onHeavy): tight
 * while it holds much, as in a burst of large bodies, whose garbage is as large as they are and
 * would otherwise wait for the heap to double; back at rest after, where collecting that often
 * would cost the clean path CPU for nothing. V8 reads the rule at every full collection. None when
 * the operator gave the rule.
 */
export function growthWhileHeavy(execArgv: readonly string[], nodeOptions: string | undefined): ((heavy: boolean) => void) | undefined {
  if (missingV8Options(['--heap-growing-percent'], execArgv, nodeOptions).length === 0) return undefined;
  return (heavy) => setFlagsFromString(`--heap-growing-percent=${heavy ? HEAVY_GROWING_PERCENT : restingGrowingPercent}`);
}
