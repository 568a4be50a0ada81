// What the tests expect of a CLI that refused to run: one line, "sqs2pg: <what failed>; <what to do>".
import { expect } from 'vitest';
import type { CliResult } from './stack.js';

/** Exactly one non-empty line on stderr, starting "sqs2pg: "; returns it. */
export function oneErrorLine(result: CliResult): string {
  const lines = result.stderr.replace(/\n$/, '').split('\n');
  expect(lines, `stderr was: ${result.stderr}`).toHaveLength(1);
  const line = lines[0]!;
  expect(line).toMatch(/^sqs2pg: \S/);
  return line;
}
