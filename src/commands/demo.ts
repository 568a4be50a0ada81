// sqs2pg demo (npm start): the whole pipeline on an embedded SQS server and an embedded
// PostgreSQL, with a generated sample, so a first run needs nothing but Node.
import { maskKeyFrom } from '../config/key.js';
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { countRows, mostRepeatedDevice, sampleRows, type LoginRowView } from '../db/inspect.js';
import { createPool } from '../db/pool.js';
import { requireUserLogins } from '../db/user-logins.js';
import { DEV_MASK_KEY, DEV_MASK_KEY_ID } from '../local/dev-key.js';
import { startEmbeddedPostgres } from '../local/embedded-postgres.js';
import { startEmbeddedSqs } from '../local/embedded-sqs.js';
import { generateSample } from '../local/sample.js';
import { EventBus } from '../observability/events.js';
import { createLogger, logEvents, resolveLogFormat } from '../observability/logger.js';
import { formatRunSummary } from '../observability/report.js';
import { colorWanted, formatSending, progressWanted, throttledLine } from '../observability/progress.js';
import { collectRunStats } from '../observability/run-stats.js';
import { prepareWorker } from '../pipeline/worker.js';
import { createSqsClient } from '../source/sqs/client.js';
import { createQueue, LOGIN_QUEUE_MAX_MESSAGE_BYTES, sendBodies } from '../source/sqs/queue-admin.js';
import { createSqsApi } from '../source/sqs/create-sqs-api.js';
import { sqsSocketsFor } from '../source/sqs/source.js';
import { createMasker } from '../transform/mask.js';
import { startObservers } from './observers.js';
import { stopOnSignals } from './stop-on-signals.js';

const QUEUE_NAME = 'login-queue';
const count = new Intl.NumberFormat('en-US');

export async function demo(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('demo', args, env);
  if (help) {
    console.log(renderHelp('demo'));
    return 0;
  }
  const say = (...lines: string[]) => {
    if (!config.quiet) console.log(lines.join('\n'));
  };
  const showProgress = progressWanted(process.stderr, env, config.quiet);
  const dataDir = `${config.dataDir}/postgres`;
  say('sqs2pg demo: starting an embedded SQS server (fauxqs) and an embedded PostgreSQL ...');
  const postgres = await startEmbeddedPostgres({ dataDir, persistent: true });
  const cleanup: (() => Promise<void>)[] = [() => postgres.stop()];
  try {
    const sqsServer = await startEmbeddedSqs();
    cleanup.unshift(() => sqsServer.stop());
    const sqs = createSqsClient({
      region: 'us-east-1',
      endpoint: sqsServer.endpoint,
      queueUrl: sqsServer.endpoint,
      receiveWaitSec: config.receiveWaitSec,
      maxSockets: sqsSocketsFor(config.pollers),
      env: {},
    });
    cleanup.unshift(() => Promise.resolve(sqs.destroy()));
    const pool = createPool(postgres.url, config.dbPoolSize);
    cleanup.unshift(() => pool.end());

    const queueUrl = await createQueue(sqs, QUEUE_NAME, LOGIN_QUEUE_MAX_MESSAGE_BYTES);
    const sample = generateSample({ count: config.demoMessages });
    // A large sample takes seconds to send: show it happening on a terminal.
    const sending = showProgress ? throttledLine(process.stderr) : undefined;
    const total = sample.bodies.length;
    sending?.draw(formatSending(0, total, process.stderr.columns), true);
    await sendBodies(sqs, queueUrl, sample.bodies, 8, (sent) => sending?.draw(formatSending(sent, total, process.stderr.columns), sent === total));
    sending?.done();
    const givenMaskKey = maskKeyFrom(config);
    const keyNote = givenMaskKey
      ? `Masking with SQS2PG_MASK_KEY (key id "${config.maskKeyId}").`
      : `Masking with the fixed development key (key id "${DEV_MASK_KEY_ID}"): fine for a demo, never for real data.`;
    say(
      `PostgreSQL data folder: ${postgres.dataDir}`,
      keyNote,
      `Sent ${count.format(sample.bodies.length)} messages to ${QUEUE_NAME}: ${count.format(sample.valid)} login events and ${count.format(sample.malformed)} malformed bodies.`,
      '',
    );

    const maskKey = { purpose: 'mask', key: givenMaskKey ?? DEV_MASK_KEY, keyId: givenMaskKey ? config.maskKeyId : DEV_MASK_KEY_ID } as const;
    const bus = new EventBus();
    const logs = logEvents(
      bus,
      createLogger(config.logLevel, { format: resolveLogFormat(config.logFormat, process.stderr), clearLine: showProgress, color: colorWanted(env) }),
    );
    const stats = collectRunStats(bus);
    const observers = await startObservers({
      bus,
      pool,
      httpHost: config.httpHost,
      httpPort: config.httpPort,
      progress: showProgress ? { stream: process.stderr, color: colorWanted(env) } : undefined,
    });
    cleanup.unshift(() => observers.close());
    if (observers.httpUrl) say(`Metrics, /healthz and /readyz at ${observers.httpUrl}.`);
    // As `run` reads a queue by default: fauxqs speaks JSON, so the hot calls take the lean path.
    const sqsApi = createSqsApi({
      protocol: 'json',
      target: sqsServer.endpoint,
      client: { region: 'us-east-1', endpoint: sqsServer.endpoint, queueUrl, receiveWaitSec: config.receiveWaitSec, maxSockets: sqsSocketsFor(config.pollers), env: {} },
      emit: bus.emit,
    });
    cleanup.unshift(() => Promise.resolve(sqsApi.destroy()));
    const pipeline = await prepareWorker({
      sqs: sqsApi,
      queueUrl,
      sqsTarget: sqsServer.endpoint,
      pool,
      databaseUrl: postgres.url,
      masker: createMasker(maskKey.key, maskKey.keyId),
      keyChecks: [maskKey],
      bus,
      options: { ...config, drain: true },
    });
    const signals = stopOnSignals(() => process.exit(130));
    signals.attach(pipeline);
    try {
      await pipeline.run();
    } finally {
      logs.flush();
      signals.dispose();
      observers.stopProgress();
    }

    const table = await requireUserLogins(pool);
    const totals = await countRows(pool, table);
    const top = await mostRepeatedDevice(pool, table);
    say(
      'Drained login-queue:',
      ...formatRunSummary(stats),
      '',
      `user_logins now holds ${count.format(totals.logins)} rows and sqs2pg.quarantine ${count.format(totals.quarantined)} (all runs). A few rows:`,
      ...formatRows(await sampleRows(pool, table, 5)),
      '',
      top
        ? `Most repeated masked_device_id: ${top.maskedDeviceId}\n  ${count.format(top.logins)} logins by ${count.format(top.users)} users: equal values mask equally, so duplicates stay visible.`
        : 'No rows yet.',
      config.maskKey
        ? 'Masks are keyed HMAC-SHA-256: without the key nobody can reverse them or test guesses.'
        : 'Masks are keyed HMAC-SHA-256. This demo\'s key is public, so anyone can test guesses against these masks; with a secret SQS2PG_MASK_KEY nobody without it can.',
      `Run it again with "npm start"; delete ${config.dataDir} to start afresh.`,
    );
    return 0;
  } finally {
    for (const step of cleanup) await step().catch(() => undefined);
  }
}

function formatRows(rows: LoginRowView[]): string[] {
  const short = (mask: string) => `${mask.slice(0, 14)}…`;
  const table = [
    ['user_id', 'device_type', 'masked_ip', 'masked_device_id', 'locale', 'app_version', 'create_date'],
    ...rows.map((row) => [
      row.user_id,
      row.device_type,
      short(row.masked_ip),
      short(row.masked_device_id),
      row.locale ?? 'null',
      String(row.app_version),
      row.create_date,
    ]),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  return table.map((row) => `  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}`.trimEnd());
}
