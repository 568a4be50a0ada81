// The build of an earlier commit (a release, or main before a change), for the bench to run beside
// this one in the same sitting: `--against <git ref>`. Exported with git archive into a folder of
// its own (no worktree left registered), installed from its own lockfile and built, then removed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PreviousBuild {
  /** its dist/cli.js */
  cli: string;
  /** the ref as given, and the commit it named */
  label: string;
  remove: () => void;
}

export function buildPrevious(root: string, ref: string, log: (line: string) => void): PreviousBuild {
  const commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', `${ref}^{commit}`], { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(tmpdir(), `sqs2pg-bench-${commit}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    log(`bench: building ${ref} (${commit}) in ${dir}`);
    execFileSync('bash', ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'archive', root, commit, dir], { stdio: 'inherit' });
    // npm ci runs the package's prepare script, which builds dist/.
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    return { cli: join(dir, 'dist/cli.js'), label: ref === commit ? commit : `${ref} (${commit})`, remove };
  } catch (error) {
    remove();
    throw error;
  }
}
