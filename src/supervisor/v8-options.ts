// sqs2pg's own V8 limits, so `run` stays small with Node's defaults: V8 grows its young generation
// to 16 MB semi-spaces (three of them resident) for a live heap of about 20 MB. A running process
// cannot change that (v8.setFlagsFromString comes too late), so `run` starts over with them: in
// place with process.execve where Node has it (22.15+, 23.11+; same pid, no second process), and
// as the supervisor's workers' options. Options the operator gave (NODE_OPTIONS or node's own
// flags) win: nothing of theirs is overridden.

/** See the README's "Memory": 2 MB semi-spaces measured ~35-50 MB less resident at no CPU cost the runs could tell. */
export const RUN_V8_OPTIONS: readonly string[] = ['--max-semi-space-size=2'];

/** RUN_V8_OPTIONS whose flag the operator has not given already. */
export function missingV8Options(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map((option) => option.split('=')[0]!.replace(/_/g, '-'));
  return RUN_V8_OPTIONS.filter((option) => !given.includes(option.split('=')[0]!));
}

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/** Replaces this process with the same command and `options` before node's own; false where Node cannot. */
export function restartInPlaceWith(options: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const execve = (process as { execve?: Execve }).execve;
  if (typeof execve !== 'function' || options.length === 0) return false;
  execve(process.execPath, [process.execPath, ...options, ...process.execArgv, ...process.argv.slice(1)], env);
  return true;
}
