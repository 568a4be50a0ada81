// sqs2pg demo (npm start): the whole pipeline on an embedded SQS server and an embedded
// PostgreSQL, with a generated sample or a file of the user's own events, so a first run needs
// nothing but Node.
import { basename } from 'node:path';
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { countRows, mostRepeatedDevice, sampleRows, type LoginRowView } from '../db/inspect.js';
import { createPool } from '../db/pool.js';
import { requireUserLogins } from '../db/user-logins.js';
import { readEventFile } from '../local/event-file.js';
import { singleInput } from '../local/local-pipelines.js';
import { fillQueue, LOCAL_QUEUE_NAME, startLocalStack } from '../local/local-stack.js';
import { generateSample } from '../local/sample.js';
import { formatRunSummary } from '../observability/report.js';
import { formatSending, progressWanted, throttledLine } from '../observability/progress.js';
import { builtinLogins } from '../config/builtin-pipelines.js';
import { sqsSocketsFor } from '../source/sqs/source.js';
import { cliInvocation } from './cli-invocation.js';
import { demoMaskKey, drainOnStack } from './demo-drain.js';
import { demoPipelines } from './demo-pipelines.js';

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
  if (config.config !== undefined) return demoPipelines(config.config, config, env, say);
  // Read before any server starts: a file that is not one of events is one line, at once.
  const inputPath = singleInput(config.input);
  const input = inputPath === undefined ? undefined : { path: inputPath, ...readEventFile(inputPath) };
  const sample = input ? undefined : generateSample({ count: config.demoMessages });
  const bodies = input?.bodies ?? sample?.bodies ?? [];
  const showProgress = progressWanted(process.stderr, env, config.quiet);
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
    const maskKey = demoMaskKey(config);
    say(
      `PostgreSQL data folder: ${stack.dataDir}`,
      maskKey.note,
      input
        ? `Sent ${count.format(bodies.length)} messages to ${LOCAL_QUEUE_NAME} from ${input.path} (${input.format}).`
        : `Sent ${count.format(bodies.length)} messages to ${LOCAL_QUEUE_NAME}: ${count.format(sample?.valid ?? 0)} login events and ${count.format(sample?.malformed ?? 0)} malformed bodies.`,
      '',
    );

    const stats = await drainOnStack({ stack, pool, specs: [builtinLogins(stack.queueUrl)], maskKey, config, env, cleanup, say });

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
      maskKey.protection,
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
