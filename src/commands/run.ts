// sqs2pg run: the worker against real (or LocalStack) SQS and PostgreSQL.
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { createPool, describeDatabase } from '../db/pool.js';
import { EventBus } from '../observability/events.js';
import { createLogger, logEvents, resolveLogFormat } from '../observability/logger.js';
import { colorWanted, progressWanted } from '../observability/progress.js';
import { formatRunSummary, runSummaryJson } from '../observability/report.js';
import { collectRunStats } from '../observability/run-stats.js';
import { prepareWorker } from '../pipeline/worker.js';
import { createSqsApi } from '../source/sqs/create-sqs-api.js';
import { sqsSocketsFor } from '../source/sqs/source.js';
import { createMasker } from '../transform/mask.js';
import { maskKeyFrom } from '../config/key.js';
import { ConfigError } from '../errors.js';
import { refuseLegacyVaultKey, vaultSealerFrom } from '../vault/key-pair.js';
import { startObservers } from './observers.js';
import { stopOnSignals } from './stop-on-signals.js';

export async function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('run', args, env);
  if (help) {
    console.log(renderHelp('run'));
    return 0;
  }
  const maskKey = maskKeyFrom(config);
  if (!maskKey) throw new ConfigError('--mask-key (SQS2PG_MASK_KEY) or --mask-key-file (SQS2PG_MASK_KEY_FILE) must be set for "sqs2pg run" (make one with: sqs2pg keygen); see: sqs2pg run --help');
  refuseLegacyVaultKey(config);
  const vault = vaultSealerFrom(config);
  if (vault?.publicKey.equals(maskKey)) throw new ConfigError('the vault public key is the mask key; make a vault key pair with "sqs2pg keygen --vault"');
  // The progress line is for a person watching a drain; a service's terminal is a log.
  const showProgress = config.drain && progressWanted(process.stderr, env, config.quiet);
  const logger = createLogger(config.logLevel, {
    format: resolveLogFormat(config.logFormat, process.stderr),
    clearLine: showProgress,
    color: colorWanted(env),
  });
  const bus = new EventBus();
  const logs = logEvents(bus, logger);
  const stats = collectRunStats(bus);
  const sqsTarget = config.sqsEndpoint ?? new URL(config.queueUrl).origin;
  const sqs = createSqsApi({
    protocol: config.sqsProtocol,
    sqsClient: config.sqsClient,
    target: sqsTarget,
    client: {
      region: config.region,
      endpoint: config.sqsEndpoint,
      queueUrl: config.queueUrl,
      receiveWaitSec: config.receiveWaitSec,
      maxSockets: sqsSocketsFor(config.pollers),
      env,
    },
    emit: bus.emit,
  });
  const pool = createPool(config.databaseUrl, config.dbPoolSize);
  const signals = stopOnSignals(
    () => {
      logger.warn('second signal: exiting now; messages in hand reappear after the visibility timeout');
      process.exit(130);
    },
    (signal) => logger.info(`received ${signal} during start-up: stopping as soon as it ends`),
  );
  let observers: Awaited<ReturnType<typeof startObservers>> | undefined;
  try {
    observers = await startObservers({
      bus,
      pool,
      httpHost: config.httpHost,
      httpPort: config.httpPort,
      progress: showProgress ? { stream: process.stderr, color: colorWanted(env) } : undefined,
    });
    const pipeline = await prepareWorker({
      sqs,
      queueUrl: config.queueUrl,
      sqsTarget,
      pool,
      databaseUrl: config.databaseUrl,
      masker: createMasker(maskKey, config.maskKeyId),
      vault,
      keyChecks: [
        { purpose: 'mask', keyId: config.maskKeyId, key: maskKey },
        ...(vault ? [{ purpose: 'vault', keyId: config.vaultKeyId, key: vault.publicKey } as const] : []),
      ],
      bus,
      options: config,
    });
    logger.info(
      {
        queueUrl: config.queueUrl,
        database: describeDatabase(config.databaseUrl),
        drain: config.drain,
        pollers: config.pollers,
        maskKeyId: config.maskKeyId,
        vaultKeyId: vault ? config.vaultKeyId : 'off',
        http: observers.httpUrl ?? 'off',
      },
      `sqs2pg started: ${config.queueUrl} into ${describeDatabase(config.databaseUrl)}${config.drain ? ' until the queue is empty' : ''}, metrics ${observers.httpUrl ?? 'off'}`,
    );
    signals.attach(pipeline);
    const { drained } = await pipeline.run();
    logs.flush();
    observers.stopProgress();
    logger.info({ ...stats, drained }, `sqs2pg stopped${drained ? ': the queue is drained' : ''}`);
    if (config.drain && config.json) console.log(runSummaryJson(stats, drained));
    else if (config.drain && !config.quiet) {
      const headline = drained ? 'sqs2pg: queue drained' : 'sqs2pg: stopped before the queue was empty';
      console.log([headline, ...formatRunSummary(stats)].join('\n'));
    }
    return 0;
  } finally {
    signals.dispose();
    await observers?.close();
    sqs.destroy();
    await pool.end();
  }
}
