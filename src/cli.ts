#!/usr/bin/env node
// Thin: pick the command, run it, and turn any failure into one line and an exit code.
import { check } from './commands/check.js';
import { demo } from './commands/demo.js';
import { forget } from './commands/forget.js';
import { grants } from './commands/grants.js';
import { keygen } from './commands/keygen.js';
import { migrate } from './commands/migrate.js';
import { quarantine } from './commands/quarantine.js';
import { replay } from './commands/replay.js';
import { reveal } from './commands/reveal.js';
import { rotate } from './commands/rotate.js';
import { run } from './commands/run.js';
import { renderUsage } from './config/help.js';
import { describeError, Sqs2pgError } from './errors.js';

const commands = { run, demo, migrate, check, reveal, forget, rotate, grants, keygen, quarantine, replay } as const;

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(renderUsage());
    return name === undefined ? 2 : 0;
  }
  if (!(name in commands)) {
    console.error(`sqs2pg: unknown command "${name}"; run "sqs2pg --help" for the list`);
    return 2;
  }
  return commands[name as keyof typeof commands](args, process.env);
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
