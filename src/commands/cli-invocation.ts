// How to call this very CLI again, from the current folder, in words a shell reads back unchanged:
// what `local` and `demo` print must work as printed ("node dist/cli.js" in a checkout, where
// sqs2pg is not on the PATH).
import { isAbsolute, relative } from 'node:path';

export function cliInvocation(script = process.argv[1] ?? 'dist/cli.js', cwd = process.cwd()): string {
  const fromHere = relative(cwd, script);
  return `node ${shellWord(fromHere.startsWith('..') || isAbsolute(fromHere) ? script : fromHere)}`;
}

/** A word the shell reads back unchanged: as it is when it can be, else in single quotes. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
