// One worker: the pipeline in this process, its observers, and (under a supervisor) its link to it.
import type { CommandLine } from '../config/load.js';
import { createPool, describeDatabase } from '../db/pool.js';
import { EventBus } from '../observability/events.js';
import { createLogger, logEvents, resolveLogFormat } from '../observability/logger.js';
import { colorWanted, progressWanted } from '../observability/progress.js';
import { formatPipelineSummary, formatRunSummary, runSummaryJson } from '../observability/report.js';
import { collectRunStats } from '../observability/run-stats.js';
import { prepareWorker } from '../pipeline/worker.js';
import { createSqsApi } from '../source/sqs/create-sqs-api.js';
import { SQS_MAX_BODY_BYTES, sqsSocketsFor } from '../source/sqs/source.js';
import { linkToSupervisor } from '../supervisor/worker-link.js';
import { S3PayloadResolver } from '../source/s3/payload-resolver.js';
import { createMasker } from '../transform/mask.js';
import { startObservers } from './observers.js';
import { stopOnSignals } from './stop-on-signals.js';
import type { vaultSealerFrom } from '../vault/key-pair.js';

export type RunConfig = CommandLine<'run'>['config'];
/** The keys `run` checked before any worker started. */
export interface RunKeys {
  maskKey: Buffer;
  vault: ReturnType<typeof vaultSealerFrom>;
}

/** `supervised`: a worker of `run --workers N`; it serves no HTTP and prints no summary, the supervisor does. */
export async function runWorker(config: RunConfig, env: NodeJS.ProcessEnv, { maskKey, vault }: RunKeys, supervised: boolean): Promise<number> {
  // The progress line is for a person watching a drain; a service's terminal is a log.
  const showProgress = !supervised && config.drain && progressWanted(process.stderr, env, config.quiet);
  const logger = createLogger(config.logLevel, {
    format: resolveLogFormat(config.logFormat, process.stderr),
    clearLine: showProgress,
    color: colorWanted(process.stderr, env),
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
  const payloads =
    config.s3Payloads === 'resolve' ? new S3PayloadResolver({ region: config.region, endpoint: config.s3Endpoint, maxBytes: config.maxBodyBytes ?? SQS_MAX_BODY_BYTES, env }) : undefined;
  const pool = createPool(config.databaseUrl, config.dbPoolSize);
  const forceExit = () => {
    logger.warn('second signal: exiting now; messages in hand reappear after the visibility timeout');
    process.exit(130);
  };
  const signals = stopOnSignals(forceExit, (signal) => logger.info(`received ${signal} during start-up: stopping as soon as it ends`));
  const link = supervised ? linkToSupervisor({ stop: (reason, leave) => signals.request(reason, leave), forceExit }) : undefined;
  let observers: Awaited<ReturnType<typeof startObservers>> | undefined;
  try {
    observers = await startObservers({
      bus,
      pool,
      httpHost: config.httpHost,
      httpPort: config.httpPort,
      supervised,
      progress: showProgress ? { stream: process.stderr, color: colorWanted(process.stderr, env) } : undefined,
    });
    const pipeline = await prepareWorker({
      sqs,
      queueUrl: config.queueUrl,
      sqsTarget,
      pool,
      databaseUrl: config.databaseUrl,
      masker: createMasker(maskKey, config.maskKeyId),
      vault,
      payloads,
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
    link?.observe({ bus, metrics: observers.metrics, readiness: observers.readiness, stats });
    signals.attach(pipeline);
    const { drained } = await pipeline.run();
    logs.flush();
    observers.stopProgress();
    logger.info({ ...stats, drained }, `sqs2pg stopped${drained ? ': the queue is drained' : ''}`);
    if (link) await link.finish(drained);
    else if (config.drain && config.json) console.log(runSummaryJson(stats, drained));
    else if (config.drain && !config.quiet) {
      const headline = drained ? 'sqs2pg: queue drained' : 'sqs2pg: stopped before the queue was empty';
      console.log([headline, ...formatRunSummary(stats), ...formatPipelineSummary(stats)].join('\n'));
    }
    return 0;
  } finally {
    link?.close();
    signals.dispose();
    await observers?.close();
    sqs.destroy();
    payloads?.destroy();
    await pool.end();
  }
}
