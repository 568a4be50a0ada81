// sqs2pg local: the demo's embedded SQS server and PostgreSQL, kept running for the user's own
// `sqs2pg run` (or check, or any SQS client) until Ctrl-C. Everything it prints to reach them works
// as printed: queue URLs on 127.0.0.1 (embedded-sqs.ts), and a mask key kept in a file beside the
// data, so a second `run` uses the key the first one registered.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freshKey } from '../config/key.js';
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { readEventFile } from '../local/event-file.js';
import { fillQueue, LOCAL_QUEUE_NAME, LOCAL_REGION, startLocalStack } from '../local/local-stack.js';
import { formatSending, progressWanted, throttledLine } from '../observability/progress.js';
import { cliInvocation, shellWord } from './cli-invocation.js';
import { stopOnSignals } from './stop-on-signals.js';

const count = new Intl.NumberFormat('en-US');
const POLLERS = 16;

export async function local(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('local', args, env);
  if (help) {
    console.log(renderHelp('local', help === 'all'));
    return 0;
  }
  const input = config.input === undefined ? undefined : { path: config.input, ...readEventFile(config.input) };
  console.log('sqs2pg local: starting an embedded SQS server (fauxqs) and an embedded PostgreSQL ...');
  // Installed first: Ctrl-C while the servers start stops them once they are up, not half-way.
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<void>((resolveStop) => (stopRequested = resolveStop));
  const signals = stopOnSignals(() => process.exit(130));
  signals.attach({ stop: () => stopRequested() });
  let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
  try {
    stack = await startLocalStack({ postgresDir: join(config.dataDir, 'postgres'), largestBody: input?.largestBytes, maxSockets: POLLERS });
    const keyFile = resolve(config.dataDir, 'mask-key');
    keepMaskKey(keyFile);
    const lines = ['sqs2pg local: the embedded SQS server and PostgreSQL are up; Ctrl-C stops them.'];
    if (input) {
      const sending = progressWanted(process.stderr, env, false) ? throttledLine(process.stderr) : undefined;
      const total = input.bodies.length;
      await fillQueue(stack, input.bodies, (sent) => sending?.draw(formatSending(sent, total, process.stderr.columns, 'events'), sent === total));
      sending?.done();
      lines.push(`Sent ${count.format(total)} messages to ${LOCAL_QUEUE_NAME} from ${input.path} (${input.format}).`);
    }
    lines.push(
      '',
      'Point sqs2pg at them from another terminal, in this folder:',
      `  export SQS_QUEUE_URL=${shellWord(stack.queueUrl)}`,
      `  export DATABASE_URL=${shellWord(stack.databaseUrl)}`,
      `  export SQS2PG_MASK_KEY_FILE=${shellWord(keyFile)}`,
      `  ${cliInvocation()} run --drain`,
      '',
      `Any other SQS client: endpoint ${stack.sqsEndpoint}, region ${LOCAL_REGION}, any credentials.`,
      `The queue lives in memory until Ctrl-C; PostgreSQL keeps its data in ${stack.dataDir}.`,
    );
    console.log(lines.join('\n'));
    await stopped;
    console.log('sqs2pg local: stopping ...');
    return 0;
  } finally {
    signals.dispose();
    await stack?.stop();
  }
}

/** A mask key made once for this data folder (mode 0600) and kept: the database remembers it under k1. */
function keepMaskKey(path: string): void {
  try {
    writeFileSync(path, `${freshKey()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
