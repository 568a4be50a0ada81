// sqs2pg run: the worker against real (or LocalStack) SQS and PostgreSQL; with --workers N, a
// supervisor of N of them. Each path loads only what it needs, so a supervisor stays small.
import '../supervisor/v8-growth-rules.js';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { renderHelp } from '../config/help.js';
import { inFlightBytesOf, reservingInFlightBytesOf } from '../config/in-flight-bytes.js';
import { loadConfig } from '../config/load.js';
import { maskKeyFrom } from '../config/key.js';
import { ConfigError } from '../errors.js';
import { createLogger, resolveLogFormat } from '../observability/logger.js';
import { colorWanted } from '../observability/progress.js';
import { resolveWorkerCount, splitPoolSize } from '../supervisor/pool-split.js';
import { missingV8Options, restartInPlaceWith, runV8Options } from '../supervisor/v8-options.js';
import { refuseLegacyVaultKey, vaultSealerFrom } from '../vault/key-pair.js';

const CLI_PATH = fileURLToPath(new URL('../cli.js', import.meta.url));

export async function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('run', args, env);
  if (help) {
    console.log(renderHelp('run', help === 'all'));
    return 0;
  }
  // Checked here, before any worker starts, so a bad key is one error and not N.
  const maskKey = maskKeyFrom(config);
  if (!maskKey) throw new ConfigError('--mask-key (SQS2PG_MASK_KEY) or --mask-key-file (SQS2PG_MASK_KEY_FILE) must be set for "sqs2pg run" (make one with: sqs2pg keygen); see: sqs2pg run --help');
  refuseLegacyVaultKey(env);
  const vault = vaultSealerFrom(config);
  if (vault?.publicKey.equals(maskKey)) throw new ConfigError('the vault public key is the mask key; make a vault key pair with "sqs2pg keygen --vault"');

  // The pipeline file too, so that a fault in it is one error before any worker starts, not one a worker.
  if (cluster.isPrimary && config.config !== undefined) {
    const { selectPipelines } = await import('../config/pipeline-file.js');
    selectPipelines(config, env);
  }

  const workers = resolveWorkerCount(config.workers, availableParallelism());
  // sqs2pg's V8 limits (v8-options.ts): a lone worker starts over with them in place where Node
  // can (where it cannot, v8-growth-rules.ts has set their growth rules); a supervisor gives them
  // to its workers. A worker of a supervisor has them already.
  // The heap's ceiling fits the larger budget: `auto` may find an endpoint whose answers are reserved.
  const heldAtMost = Math.max(inFlightBytesOf(config), reservingInFlightBytesOf(config));
  const v8Options = cluster.isPrimary ? missingV8Options(runV8Options(heldAtMost), process.execArgv, env.NODE_OPTIONS) : [];
  if (cluster.isPrimary && workers === 1) restartInPlaceWith(v8Options, env);
  if (cluster.isPrimary && workers > 1) {
    const poolSizes = splitPoolSize(config.dbPoolSize, workers);
    const { supervise } = await import('../supervisor/supervisor.js');
    return supervise({
      poolSizes,
      cliPath: CLI_PATH,
      args,
      execArgv: [...v8Options, ...process.execArgv],
      drain: config.drain,
      json: config.json,
      quiet: config.quiet,
      httpHost: config.httpHost,
      httpPort: config.httpPort,
      logger: createLogger(config.logLevel, { format: resolveLogFormat(config.logFormat, process.stderr), color: colorWanted(process.stderr, env) }),
    });
  }
  const { runWorker } = await import('./run-worker.js');
  return runWorker(config, env, { maskKey, vault }, cluster.isWorker);
}
