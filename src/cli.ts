#!/usr/bin/env node
// Thin: pick the command, run it, and turn any failure into one line and an exit code.
import { describeError, Sqs2pgError } from './errors.js';
import { noteNodeSupport } from './node-support.js';

type Command = (args: readonly string[], env: NodeJS.ProcessEnv) => Promise<number>;
// Loaded on demand: a command pays only for its own modules (a supervisor never loads the AWS SDK or pg).
const commands: Record<string, () => Promise<Command>> = {
  run: async () => {
    // Before run's modules are even parsed, which is what grows V8's heap (v8-growth-rules.ts).
    await import('./supervisor/v8-growth-rules.js');
    return (await import('./commands/run.js')).run;
  },
  demo: async () => (await import('./commands/demo.js')).demo,
  local: async () => (await import('./commands/local.js')).local,
  migrate: async () => (await import('./commands/migrate.js')).migrate,
  check: async () => (await import('./commands/check.js')).check,
  pipelines: async () => (await import('./commands/pipelines.js')).pipelines,
  reveal: async () => (await import('./commands/reveal.js')).reveal,
  forget: async () => (await import('./commands/forget.js')).forget,
  rotate: async () => (await import('./commands/rotate.js')).rotate,
  grants: async () => (await import('./commands/grants.js')).grants,
  keygen: async () => (await import('./commands/keygen.js')).keygen,
  quarantine: async () => (await import('./commands/quarantine.js')).quarantine,
  replay: async () => (await import('./commands/replay.js')).replay,
};

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    console.log((await import('./version.js')).version());
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    // Loaded here only, so that nothing grows V8's heap before `run` limits it.
    const [{ renderUsage }, { version }] = await Promise.all([import('./config/help.js'), import('./version.js')]);
    console.log(renderUsage(version()));
    return name === undefined ? 2 : 0;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    console.error(`sqs2pg: unknown command "${name}"; run "sqs2pg --help" for the list`);
    return 2;
  }
  noteNodeSupport(name, args, process.env);
  return (await load())(args, process.env);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof Sqs2pgError) {
      console.error(`sqs2pg: ${error.message}`);
      process.exitCode = error.exitCode;
    } else {
      console.error(`sqs2pg: unexpected error: ${describeError(error)}`);
      process.exitCode = 1;
    }
  },
);
