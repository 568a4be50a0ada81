// sqs2pg local: the demo's embedded SQS server and PostgreSQL, kept running for the user's own
// `sqs2pg run` (or check, or any SQS client) until Ctrl-C. Everything it prints to reach them works
// as printed: queue URLs on 127.0.0.1 (embedded-sqs.ts), and a mask key kept in a file beside the
// data, so a second `run` uses the key the first one registered. With --config, a queue for every
// pipeline of the file, and each queue's ${VAR} among the lines to paste.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freshKey } from '../config/key.js';
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { readEventFile } from '../local/event-file.js';
import { loadLocalPipelines, singleInput, type LocalPipeline } from '../local/local-pipelines.js';
import { fillQueue, LOCAL_QUEUE_NAME, LOCAL_REGION, startLocalStack, type LocalStack } from '../local/local-stack.js';
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
  // Read before any server starts: a fault of the file or of an input file is one message, at once.
  const file = config.config;
  const pipelines = file === undefined ? undefined : loadLocalPipelines(file, env, config.input);
  const inputPath = file === undefined ? singleInput(config.input) : undefined;
  const input = inputPath === undefined ? undefined : { path: inputPath, ...readEventFile(inputPath) };
  console.log('sqs2pg local: starting an embedded SQS server (fauxqs) and an embedded PostgreSQL ...');
  // Installed first: Ctrl-C while the servers start stops them once they are up, not half-way.
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<void>((resolveStop) => (stopRequested = resolveStop));
  const signals = stopOnSignals(() => process.exit(130));
  signals.attach({ stop: () => stopRequested() });
  let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
  try {
    stack = await startLocalStack({
      postgresDir: join(config.dataDir, 'postgres'),
      largestBody: Math.max(input?.largestBytes ?? 0, ...(pipelines ?? []).map((pipeline) => pipeline.input?.largestBytes ?? 0)),
      maxSockets: POLLERS,
      queues: pipelines?.map((pipeline) => pipeline.queueName),
    });
    const keyFile = resolve(config.dataDir, 'mask-key');
    keepMaskKey(keyFile);
    const lines = ['sqs2pg local: the embedded SQS server and PostgreSQL are up; Ctrl-C stops them.'];
    const sends = pipelines ? pipelines.flatMap((pipeline) => (pipeline.input ? [{ ...pipeline.input, queue: pipeline.queueName }] : [])) : input ? [{ ...input, queue: LOCAL_QUEUE_NAME }] : [];
    for (const send of sends) lines.push(await sendFile(stack, send, env));
    const wayIn = pipelines === undefined ? [`  export SQS_QUEUE_URL=${shellWord(stack.queueUrl)}`] : queueExports(pipelines, stack);
    lines.push(
      '',
      'Point sqs2pg at them from another terminal, in this folder:',
      ...wayIn,
      `  export DATABASE_URL=${shellWord(stack.databaseUrl)}`,
      `  export SQS2PG_MASK_KEY_FILE=${shellWord(keyFile)}`,
      `  ${cliInvocation()} run --drain${file === undefined ? '' : ` --config ${shellWord(file)}`}`,
      ...(pipelines ? writtenOut(pipelines, stack) : []),
      '',
      `Any other SQS client: endpoint ${stack.sqsEndpoint}, region ${LOCAL_REGION}, any credentials.`,
      `${stack.queueUrls.size === 1 ? 'The queue lives' : 'The queues live'} in memory until Ctrl-C; PostgreSQL keeps its data in ${stack.dataDir}.`,
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

/** Sends a file's events to a queue of the stack; the line that says so. */
async function sendFile(stack: LocalStack, send: { path: string; format: string; bodies: string[]; queue: string }, env: NodeJS.ProcessEnv): Promise<string> {
  const sending = progressWanted(process.stderr, env, false) ? throttledLine(process.stderr) : undefined;
  const total = send.bodies.length;
  await fillQueue(stack, send.bodies, (sent) => sending?.draw(formatSending(sent, total, process.stderr.columns, 'events'), sent === total), stack.queueUrls.get(send.queue));
  sending?.done();
  return `Sent ${count.format(total)} messages to ${send.queue} from ${send.path} (${send.format}).`;
}

/** Each pipeline's queue as the ${VAR} its file's queue is. */
function queueExports(pipelines: readonly LocalPipeline[], stack: LocalStack): string[] {
  return pipelines.flatMap((pipeline) => (pipeline.queueVar === undefined ? [] : [`  export ${pipeline.queueVar}=${shellWord(stack.queueUrls.get(pipeline.queueName)!)}`]));
}

/** A pipeline whose file writes its queue out reads that one, not the embedded one: said, with the way to change it. */
function writtenOut(pipelines: readonly LocalPipeline[], stack: LocalStack): string[] {
  return pipelines.flatMap((pipeline) =>
    pipeline.queueVar !== undefined
      ? []
      : [
          `Pipeline ${pipeline.spec.name} reads the queue its file writes out (${pipeline.queueAsWritten}), not ${stack.queueUrls.get(pipeline.queueName)!};`,
          `  to read this one, write queue: \${${pipeline.spec.name.toUpperCase()}_QUEUE_URL} in the file and export it.`,
        ],
  );
}

/** A mask key made once for this data folder (mode 0600) and kept: the database remembers it under k1. */
function keepMaskKey(path: string): void {
  try {
    writeFileSync(path, `${freshKey()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
