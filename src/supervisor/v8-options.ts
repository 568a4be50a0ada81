// sqs2pg's own V8 limits, so `run` stays small with Node's defaults. V8 grows its young generation
// to 16 MB semi-spaces, and lets the old generation grow to ~100 MB of garbage before its first full
// collection when its ceiling is the machine's (gigabytes), for a live heap of about 20 MB. A
// running process cannot change either (v8.setFlagsFromString comes too late), so `run` starts over
// with them: in place with process.execve where Node has it (22.15+, 23.11+; same pid, no second
// process), and as the supervisor's workers' options. The operator's own options (NODE_OPTIONS or
// node's flags) win, one by one.

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

/** Those of `wanted` whose flag the operator has not given already. */
export function missingV8Options(wanted: readonly string[], execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const flagOf = (option: string) => option.split('=')[0]!.replace(/_/g, '-');
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map(flagOf));
  return wanted.filter((option) => !given.has(flagOf(option)));
}

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/** Replaces this process with the same command and `options` before node's own; false where Node cannot. */
export function restartInPlaceWith(options: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const execve = (process as { execve?: Execve }).execve;
  if (typeof execve !== 'function' || options.length === 0) return false;
  execve(process.execPath, [process.execPath, ...options, ...process.execArgv, ...process.argv.slice(1)], env);
  return true;
}
