// sqs2pg run: the worker against real (or LocalStack) SQS and PostgreSQL.
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { createPool, describeDatabase } from '../db/pool.js';
import { EventBus } from '../observability/events.js';
import { createLogger, logEvents } from '../observability/logger.js';
import { formatRunSummary } from '../observability/report.js';
import { collectRunStats } from '../observability/run-stats.js';
import { prepareWorker } from '../pipeline/worker.js';
import { createSqsApi } from '../source/sqs/create-sqs-api.js';
import { sqsSocketsFor } from '../source/sqs/source.js';
import { createMasker } from '../transform/mask.js';
import { stopOnSignals } from './stop-on-signals.js';

export async function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('run', args, env);
  if (help || !config.maskKey) {
    console.log(renderHelp('run'));
    return 0;
  }
  const logger = createLogger(config.logLevel);
  const bus = new EventBus();
  logEvents(bus, logger);
  const stats = collectRunStats(bus);
  const sqsTarget = config.sqsEndpoint ?? new URL(config.queueUrl).origin;
  const sqs = createSqsApi({
    protocol: config.sqsProtocol,
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
  const signals = stopOnSignals(() => {
    logger.warn('second signal: exiting now; messages in hand reappear after the visibility timeout');
    process.exit(130);
  });
  try {
    const pipeline = await prepareWorker({
      sqs,
      queueUrl: config.queueUrl,
      sqsTarget,
      pool,
      databaseUrl: config.databaseUrl,
      masker: createMasker(config.maskKey, config.maskKeyId),
      bus,
      options: config,
    });
    logger.info(
      { queueUrl: config.queueUrl, database: describeDatabase(config.databaseUrl), drain: config.drain, pollers: config.pollers },
      'sqs2pg started',
    );
    signals.attach(pipeline);
    const { drained } = await pipeline.run();
    logger.info({ ...stats, drained }, 'sqs2pg stopped');
    if (config.drain) {
      const headline = drained ? 'sqs2pg: queue drained' : 'sqs2pg: stopped before the queue was empty';
      console.log([headline, ...formatRunSummary(stats)].join('\n'));
    }
    return 0;
  } finally {
    signals.dispose();
    sqs.destroy();
    await pool.end();
  }
}
