// What `local` and `demo` print to call the CLI again works as printed: relative in a checkout,
// absolute from elsewhere, quoted where a shell would split or expand it.
import { describe, expect, it } from 'vitest';
import { cliInvocation, shellWord } from '../../../src/commands/cli-invocation.js';

describe('cliInvocation', () => {
  it.each([
    ['/home/you/sqs2pg/dist/cli.js', '/home/you/sqs2pg', 'node dist/cli.js'],
    ['/home/you/sqs2pg/dist/cli.js', '/tmp/elsewhere', 'node /home/you/sqs2pg/dist/cli.js'],
    ['/home/you/my project/dist/cli.js', '/tmp', "node '/home/you/my project/dist/cli.js'"],
    ['/app/node_modules/.bin/sqs2pg', '/app', 'node node_modules/.bin/sqs2pg'],
  ])('%s from %s: %s', (script, cwd, expected) => {
    expect(cliInvocation(script, cwd)).toBe(expected);
  });

  it('quotes what a shell would change', () => {
    expect(shellWord('postgres://postgres:postgres@127.0.0.1:5432/postgres')).toBe('postgres://postgres:postgres@127.0.0.1:5432/postgres');
    expect(shellWord("it's $HOME")).toBe("'it'\\''s $HOME'");
  });
});
