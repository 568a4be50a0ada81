// The worker processes a process-level fault scenario starts (crash, competing workers, graceful
// stop): each is tracked so its output can be scanned for personal data and none outlives the
// scenario; faults land at moments drawn from a seeded generator whose seed is printed for replay.
import { setTimeout as sleep } from 'node:timers/promises';
import { startCli, type CliProcess, type CliResult, type TestStack } from '../helpers/stack.js';
import { SCENARIO_TIMEOUT_MS, tableExists } from './harness.js';

export { sleep };

/** Every process a scenario starts, all bound by one deadline. */
export class Fleet {
  private readonly started: CliProcess[] = [];
  private readonly deadline: number;

  /** `budgetMs`: how long the scenario's processes may take, all together */
  constructor(budgetMs: number) {
    this.deadline = Date.now() + budgetMs;
  }

  /** Starts the built CLI; it is SIGKILLed if still running at the deadline. */
  start(args: readonly string[], env: NodeJS.ProcessEnv): CliProcess {
    const cli = startCli(args, env, Math.max(this.deadline - Date.now(), 1_000));
    this.started.push(cli);
    return cli;
  }

  /** The process's result; fails, with the end of its stderr, if it still runs at the deadline. */
  finish(cli: CliProcess): Promise<CliResult> {
    return exitWithin(cli, Math.max(this.deadline - Date.now(), 0));
  }

  /** stdout and stderr of every process started, finished or not */
  outputs(): string[] {
    return this.started.flatMap((cli) => {
      const { stdout, stderr } = cli.output();
      return [stdout, stderr];
    });
  }

  /** SIGKILLs whatever still runs and waits until every process is gone. */
  async stopAll(): Promise<void> {
    for (const cli of this.started) if (isRunning(cli)) cli.child.kill('SIGKILL');
    await Promise.all(this.started.map((cli) => cli.done));
  }
}

export function isRunning(cli: CliProcess): boolean {
  return cli.child.exitCode === null && cli.child.signalCode === null;
}

/** Messages the database holds (both pipelines' rows plus quarantine records); 0 before the first migration. */
export async function committedCount(stack: TestStack): Promise<number> {
  const migrated = await stack.pool.query<{ ok: boolean }>("SELECT to_regclass('sqs2pg.quarantine') IS NOT NULL AS ok");
  if (!migrated.rows[0]?.ok) return 0;
  const pageViews = (await tableExists(stack, 'page_views')) ? '(SELECT count(*) FROM page_views) +' : '';
  const result = await stack.pool.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM user_logins) + ${pageViews} (SELECT count(*) FROM sqs2pg.quarantine) AS n`,
  );
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * Resolves true once the database holds more than `above` messages while `cli` runs (work is
 * being committed), false if the process exited first. A state, not a deadline: on a busy machine
 * four workers were seen to commit 24 rows in 30 s and still finish; the bound is the scenario's.
 */
export async function waitForProgress(stack: TestStack, cli: CliProcess, above: number, timeoutMs = SCENARIO_TIMEOUT_MS - 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(cli)) return false;
    if ((await committedCount(stack)) > above) return true;
    await sleep(20);
  }
  throw new Error(`nothing committed past ${above} messages in ${timeoutMs} ms:\n${cli.output().stderr.slice(-2000)}`);
}

/** The process's result, or an error if it is still running `ms` from now. */
export async function exitWithin(cli: CliProcess, ms: number): Promise<CliResult> {
  const late = new AbortController();
  try {
    return await Promise.race([
      cli.done,
      sleep(ms, undefined, { signal: late.signal }).then(() => {
        throw new Error(`still running ${ms} ms later:\n${cli.output().stderr.slice(-2000)}`);
      }),
    ]);
  } finally {
    late.abort();
  }
}

export interface Random {
  seed: number;
  /** uniform integer in [min, max] */
  between(min: number, max: number): number;
}

/** mulberry32, seeded from FAULTS_SEED when set so that a failing run can be replayed. */
export function seededRandom(): Random {
  const seed = Number(process.env.FAULTS_SEED) || Math.floor(Math.random() * 2 ** 31);
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, between: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}
