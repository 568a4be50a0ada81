// The demo's drain, with a pipeline file or without: its pipelines on the embedded stack's SQS
// server, assembled by run's own code (prepareWorker) and run until every queue is empty.
import { maskKeyFrom } from '../config/key.js';
import { inFlightBytesOf, reservingInFlightBytesOf } from '../config/in-flight-bytes.js';
import type { CommandLine } from '../config/load.js';
import type { Pool } from '../db/pool.js';
import { DEV_MASK_KEY, DEV_MASK_KEY_ID } from '../local/dev-key.js';
import { LOCAL_REGION, type LocalStack } from '../local/local-stack.js';
import type { PipelineSpec } from '../model/pipeline.js';
import { EventBus } from '../observability/events.js';
import { createLogger, logEvents, resolveLogFormat } from '../observability/logger.js';
import { colorWanted, progressWanted } from '../observability/progress.js';
import { collectRunStats, type RunStats } from '../observability/run-stats.js';
import { prepareWorker } from '../pipeline/worker.js';
import { createSqsApi } from '../source/sqs/create-sqs-api.js';
import { sqsSocketsFor } from '../source/sqs/source.js';
import { createMasker } from '../transform/mask.js';
import { startObservers } from './observers.js';
import { stopOnSignals } from './stop-on-signals.js';

export type DemoConfig = CommandLine<'demo'>['config'];

export interface DemoDrain {
  stack: LocalStack;
  pool: Pool;
  specs: readonly PipelineSpec[];
  maskKey: DemoMaskKey;
  config: DemoConfig;
  env: NodeJS.ProcessEnv;
  /** what the demo stops at its end, first first: the drain adds its own parts in front */
  cleanup: (() => Promise<void>)[];
  say: (...lines: string[]) => void;
}

export interface DemoMaskKey {
  key: Buffer;
  keyId: string;
  /** the line saying which key masks */
  note: string;
  /** the line saying what its masks protect */
  protection: string;
}

/** SQS2PG_MASK_KEY when given, else the fixed development key, which protects nothing and is said so. */
export function demoMaskKey(config: DemoConfig): DemoMaskKey {
  const given = maskKeyFrom(config);
  return given
    ? {
        key: given,
        keyId: config.maskKeyId,
        note: `Masking with SQS2PG_MASK_KEY (key id "${config.maskKeyId}").`,
        protection: 'Masks are keyed HMAC-SHA-256: without the key nobody can reverse them or test guesses.',
      }
    : {
        key: DEV_MASK_KEY,
        keyId: DEV_MASK_KEY_ID,
        note: `Masking with the fixed development key (key id "${DEV_MASK_KEY_ID}"): fine for a demo, never for real data.`,
        protection: "Masks are keyed HMAC-SHA-256. This demo's key is public, so anyone can test guesses against\nits masks; with a secret SQS2PG_MASK_KEY nobody without the key can.",
      };
}

/** Drains every pipeline's queue; the counts of the run, and of each pipeline. */
export async function drainOnStack({ stack, pool, specs, maskKey, config, env, cleanup, say }: DemoDrain): Promise<RunStats> {
  const showProgress = progressWanted(process.stderr, env, config.quiet);
  const color = colorWanted(process.stderr, env);
  const names = specs.map((spec) => spec.name);
  const bus = new EventBus();
  const logs = logEvents(bus, createLogger(config.logLevel, { format: resolveLogFormat(config.logFormat, process.stderr), clearLine: showProgress, color }), { pipelines: names });
  const stats = collectRunStats(bus, names);
  const observers = await startObservers({
    bus,
    pool,
    httpHost: config.httpHost,
    httpPort: config.httpPort,
    pipelines: names,
    progress: showProgress ? { stream: process.stderr, color } : undefined,
  });
  cleanup.unshift(() => observers.close());
  if (observers.httpUrl) say(`Metrics, /healthz and /readyz at ${observers.httpUrl}.`);
  // As `run` reads a queue by default: fauxqs speaks JSON, so the hot calls take the lean path.
  const maxSockets = sqsSocketsFor(config.pollers * specs.length);
  const sqsApi = createSqsApi({
    protocol: 'json',
    target: stack.sqsEndpoint,
    client: { region: LOCAL_REGION, endpoint: stack.sqsEndpoint, queueUrl: stack.queueUrl, receiveWaitSec: config.receiveWaitSec, maxSockets, env: {} },
    emit: bus.emit,
  });
  cleanup.unshift(() => Promise.resolve(sqsApi.destroy()));
  const pipelines = await prepareWorker({
    specs,
    sqsFor: () => ({ sqs: sqsApi, target: stack.sqsEndpoint }),
    pool,
    databaseUrl: stack.databaseUrl,
    masker: createMasker(maskKey.key, maskKey.keyId),
    keyChecks: [{ purpose: 'mask', key: maskKey.key, keyId: maskKey.keyId }],
    bus,
    options: { ...config, drain: true, maxInFlightBytes: inFlightBytesOf(config), reservingInFlightBytes: reservingInFlightBytesOf(config) },
  });
  const signals = stopOnSignals(() => process.exit(130));
  signals.attach(pipelines);
  try {
    await pipelines.run();
  } finally {
    logs.flush();
    signals.dispose();
    observers.stopProgress();
  }
  return stats;
}
