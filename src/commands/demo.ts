// sqs2pg demo (npm start): the whole pipeline on an embedded SQS server and an embedded
// PostgreSQL, with a generated sample or a file of the user's own events, so a first run needs
// nothing but Node.
import { basename } from 'node:path';
import { maskKeyFrom } from '../config/key.js';
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { countRows, mostRepeatedDevice, sampleRows, type LoginRowView } from '../db/inspect.js';
import { createPool } from '../db/pool.js';
import { requireUserLogins } from '../db/user-logins.js';
import { DEV_MASK_KEY, DEV_MASK_KEY_ID } from '../local/dev-key.js';
import { readEventFile } from '../local/event-file.js';
import { fillQueue, LOCAL_QUEUE_NAME, LOCAL_REGION, startLocalStack } from '../local/local-stack.js';
import { generateSample } from '../local/sample.js';
import { EventBus } from '../observability/events.js';
import { createLogger, logEvents, resolveLogFormat } from '../observability/logger.js';
import { formatRunSummary } from '../observability/report.js';
import { colorWanted, formatSending, progressWanted, throttledLine } from '../observability/progress.js';
import { collectRunStats } from '../observability/run-stats.js';
import { prepareWorker } from '../pipeline/worker.js';
import { builtinLogins } from '../config/builtin-pipelines.js';
import { createSqsApi } from '../source/sqs/create-sqs-api.js';
import { sqsSocketsFor } from '../source/sqs/source.js';
import { createMasker } from '../transform/mask.js';
import { cliInvocation } from './cli-invocation.js';
import { startObservers } from './observers.js';
import { stopOnSignals } from './stop-on-signals.js';

const count = new Intl.NumberFormat('en-US');

export async function demo(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('demo', args, env);
  if (help) {
    console.log(renderHelp('demo', help === 'all'));
    return 0;
  }
  const say = (...lines: string[]) => {
    if (!config.quiet) console.log(lines.join('\n'));
  };
  // Read before any server starts: a file that is not one of events is one line, at once.
  const input = config.input === undefined ? undefined : { path: config.input, ...readEventFile(config.input) };
  const sample = input ? undefined : generateSample({ count: config.demoMessages });
  const bodies = input?.bodies ?? sample?.bodies ?? [];
  const showProgress = progressWanted(process.stderr, env, config.quiet);
  const color = colorWanted(process.stderr, env);
  say('sqs2pg demo: starting an embedded SQS server (fauxqs) and an embedded PostgreSQL ...');
  const stack = await startLocalStack({ postgresDir: `${config.dataDir}/postgres`, largestBody: input?.largestBytes, maxSockets: sqsSocketsFor(config.pollers) });
  const cleanup: (() => Promise<void>)[] = [() => stack.stop()];
  try {
    const pool = createPool(stack.databaseUrl, config.dbPoolSize);
    cleanup.unshift(() => pool.end());

    // A large file takes seconds to send: show it happening on a terminal.
    const sending = showProgress ? throttledLine(process.stderr) : undefined;
    const what = input ? `events from ${basename(input.path)}` : 'sample messages';
    sending?.draw(formatSending(0, bodies.length, process.stderr.columns, what), true);
    await fillQueue(stack, bodies, (sent) => sending?.draw(formatSending(sent, bodies.length, process.stderr.columns, what), sent === bodies.length));
    sending?.done();
    const givenMaskKey = maskKeyFrom(config);
    const keyNote = givenMaskKey
      ? `Masking with SQS2PG_MASK_KEY (key id "${config.maskKeyId}").`
      : `Masking with the fixed development key (key id "${DEV_MASK_KEY_ID}"): fine for a demo, never for real data.`;
    say(
      `PostgreSQL data folder: ${stack.dataDir}`,
      keyNote,
      input
        ? `Sent ${count.format(bodies.length)} messages to ${LOCAL_QUEUE_NAME} from ${input.path} (${input.format}).`
        : `Sent ${count.format(bodies.length)} messages to ${LOCAL_QUEUE_NAME}: ${count.format(sample?.valid ?? 0)} login events and ${count.format(sample?.malformed ?? 0)} malformed bodies.`,
      '',
    );

    const maskKey = { purpose: 'mask', key: givenMaskKey ?? DEV_MASK_KEY, keyId: givenMaskKey ? config.maskKeyId : DEV_MASK_KEY_ID } as const;
    const bus = new EventBus();
    const logs = logEvents(bus, createLogger(config.logLevel, { format: resolveLogFormat(config.logFormat, process.stderr), clearLine: showProgress, color }));
    const stats = collectRunStats(bus);
    const observers = await startObservers({
      bus,
      pool,
      httpHost: config.httpHost,
      httpPort: config.httpPort,
      progress: showProgress ? { stream: process.stderr, color } : undefined,
    });
    cleanup.unshift(() => observers.close());
    if (observers.httpUrl) say(`Metrics, /healthz and /readyz at ${observers.httpUrl}.`);
    // As `run` reads a queue by default: fauxqs speaks JSON, so the hot calls take the lean path.
    const sqsApi = createSqsApi({
      protocol: 'json',
      target: stack.sqsEndpoint,
      client: { region: LOCAL_REGION, endpoint: stack.sqsEndpoint, queueUrl: stack.queueUrl, receiveWaitSec: config.receiveWaitSec, maxSockets: sqsSocketsFor(config.pollers), env: {} },
      emit: bus.emit,
    });
    cleanup.unshift(() => Promise.resolve(sqsApi.destroy()));
    const pipeline = await prepareWorker({
      specs: [builtinLogins(stack.queueUrl)],
      sqsFor: () => ({ sqs: sqsApi, target: stack.sqsEndpoint }),
      pool,
      databaseUrl: stack.databaseUrl,
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
      `Drained ${LOCAL_QUEUE_NAME}:`,
      ...formatRunSummary(stats),
      '',
      `user_logins now holds ${count.format(totals.logins)} rows and sqs2pg.quarantine ${count.format(totals.quarantined)} (all runs). A few rows:`,
      ...formatRows(await sampleRows(pool, table, 5)),
      '',
      !top
        ? 'No rows yet.'
        : top.logins > 1
          ? `Most repeated masked_device_id: ${top.maskedDeviceId}\n  ${count.format(top.logins)} logins by ${count.format(top.users)} users: equal values mask equally, so duplicates stay visible.`
          : 'Every masked_device_id appears once: equal values would mask equally, so duplicates stay visible.',
      givenMaskKey
        ? 'Masks are keyed HMAC-SHA-256: without the key nobody can reverse them or test guesses.'
        : "Masks are keyed HMAC-SHA-256. This demo's key is public, so anyone can test guesses against\nits masks; with a secret SQS2PG_MASK_KEY nobody without the key can.",
      '',
      'Next:',
      ...nextSteps(cliInvocation()),
      `Delete ${config.dataDir} to start afresh.`,
    );
    return 0;
  } finally {
    for (const step of cleanup) await step().catch(() => undefined);
  }
}

/** What a new user may want after the demo, with the commands as this checkout runs them. */
function nextSteps(cli: string): string[] {
  const steps = [
    [`${cli} demo --input FILE`, 'your own events (a JSON array, or JSON Lines)'],
    [`${cli} local`, 'keep these servers running for your own "run"'],
    ['README.md, "A real AWS queue"', 'point sqs2pg at your queue'],
  ];
  const width = Math.max(...steps.map(([command]) => command!.length));
  return steps.map(([command, what]) => `  ${command!.padEnd(width)}  ${what!}`);
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
