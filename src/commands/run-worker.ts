// One worker: the pipeline in this process, its observers, and (under a supervisor) its link to it.
import { inFlightBytesOf, reservingInFlightBytesOf } from '../config/in-flight-bytes.js';
import type { CommandLine } from '../config/load.js';
import { createPool, describeDatabase } from '../db/pool.js';
import { EventBus } from '../observability/events.js';
import { createLogger, logEvents, resolveLogFormat } from '../observability/logger.js';
import { colorWanted, progressWanted } from '../observability/progress.js';
import { formatPipelineSummary, formatRunSummary, runSummaryJson } from '../observability/report.js';
import { collectRunStats } from '../observability/run-stats.js';
import { prepareWorker } from '../pipeline/worker.js';
import { createSqsApi } from '../source/sqs/create-sqs-api.js';
import type { SqsApi } from '../source/sqs/sqs-api.js';
import { pipelinesToRun } from '../config/pipelines-to-run.js';
import type { PipelineSpec } from '../model/pipeline.js';
import { SQS_MAX_BODY_BYTES, sqsSocketsFor } from '../source/sqs/source.js';
import { growthWhileHeavy } from '../supervisor/v8-options.js';
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
  // Without a pipeline file, the login pipeline on --queue-url, exactly as before there were files.
  const specs = await pipelinesToRun(config, env);
  const names = specs.map((spec) => spec.name);
  const bus = new EventBus();
  const logs = logEvents(bus, logger, { pipelines: names });
  const stats = collectRunStats(bus, names);
  const sqsFor = sqsClients(config, env, bus, specs);
  // One S3 client for every pipeline that resolves payloads (its own s3_payloads, else --s3-payloads).
  const resolving = specs.some((spec) => (spec.s3Payloads ?? config.s3Payloads) === 'resolve');
  const payloads = resolving ? new S3PayloadResolver({ region: config.region, endpoint: config.s3Endpoint, maxBytes: config.maxBodyBytes ?? SQS_MAX_BODY_BYTES, env }) : undefined;
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
      pipelines: names,
      progress: showProgress ? { stream: process.stderr, color: colorWanted(process.stderr, env) } : undefined,
    });
    const pipelines = await prepareWorker({
      specs,
      sqsFor: sqsFor.get,
      pool,
      databaseUrl: config.databaseUrl,
      masker: createMasker(maskKey, config.maskKeyId),
      vault,
      payloads,
      s3Payloads: config.s3Payloads,
      keyChecks: [
        { purpose: 'mask', keyId: config.maskKeyId, key: maskKey },
        ...(vault ? [{ purpose: 'vault', keyId: config.vaultKeyId, key: vault.publicKey } as const] : []),
      ],
      bus,
      options: { ...config, maxInFlightBytes: inFlightBytesOf(config), reservingInFlightBytes: reservingInFlightBytesOf(config) },
      whileHeavy: growthWhileHeavy(process.execArgv, env.NODE_OPTIONS),
    });
    const queues = specs.map((spec) => spec.queue).join(', ');
    logger.info(
      {
        pipelines: specs.map((spec) => spec.name),
        queueUrls: specs.map((spec) => spec.queue),
        database: describeDatabase(config.databaseUrl),
        drain: config.drain,
        pollers: config.pollers,
        maskKeyId: config.maskKeyId,
        vaultKeyId: vault ? config.vaultKeyId : 'off',
        http: observers.httpUrl ?? 'off',
      },
      `sqs2pg started: ${specs.length === 1 ? queues : `${specs.length} pipelines (${specs.map((spec) => spec.name).join(', ')})`} into ${describeDatabase(config.databaseUrl)}${config.drain ? ' until the queue is empty' : ''}, metrics ${observers.httpUrl ?? 'off'}`,
    );
    link?.observe({ bus, metrics: observers.metrics, readiness: observers.readiness, stats });
    signals.attach(pipelines);
    const { drained } = await pipelines.run();
    logs.flush();
    observers.stopProgress();
    logger.info({ ...stats, drained }, `sqs2pg stopped${drained ? (specs.length === 1 ? ': the queue is drained' : ': the queues are drained') : ''}`);
    if (link) await link.finish(drained);
    else if (config.drain && config.json) console.log(runSummaryJson(stats, drained));
    else if (config.drain && !config.quiet) {
      const headline = drained ? `sqs2pg: ${specs.length === 1 ? 'queue' : 'queues'} drained` : `sqs2pg: stopped before the ${specs.length === 1 ? 'queue was' : 'queues were'} empty`;
      console.log([headline, ...formatRunSummary(stats), ...formatPipelineSummary(stats)].join('\n'));
    }
    return 0;
  } finally {
    link?.close();
    signals.dispose();
    await observers?.close();
    sqsFor.destroy();
    payloads?.destroy();
    await pool.end();
  }
}

/**
 * One SQS client per endpoint, made when a queue first needs it: pipelines whose queues one endpoint
 * serves share its sockets and its protocol choice.
 */
function sqsClients(
  config: RunConfig,
  env: NodeJS.ProcessEnv,
  bus: EventBus,
  specs: readonly PipelineSpec[],
): { get: (queueUrl: string) => { sqs: SqsApi; target: string }; destroy(): void } {
  const clients = new Map<string, SqsApi>();
  const targetOf = (queueUrl: string) => config.sqsEndpoint ?? new URL(queueUrl).origin;
  return {
    get(queueUrl) {
      const target = targetOf(queueUrl);
      let sqs = clients.get(target);
      if (!sqs) {
        sqs = createSqsApi({
          protocol: config.sqsProtocol,
          sqsClient: config.sqsClient,
          target,
          client: {
            region: config.region,
            endpoint: config.sqsEndpoint,
            queueUrl,
            receiveWaitSec: config.receiveWaitSec,
            // Sockets for every poller of every pipeline this client serves.
            maxSockets: sqsSocketsFor(config.pollers * specs.filter((spec) => targetOf(spec.queue) === target).length),
            env,
          },
          emit: bus.emit,
        });
        clients.set(target, sqs);
      }
      return { sqs, target };
    },
    destroy() {
      for (const sqs of clients.values()) sqs.destroy();
    },
  };
}
