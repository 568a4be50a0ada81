// The AWS SDK says on Node 20, once per process and in eight lines of a process warning, that its
// releases after the first week of January 2027 need Node 22. sqs2pg says it in one line of its
// own instead, once per command (a supervisor's workers inherit the silence), and only for the
// commands that load the SDK. AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true hides both.
const SDK_COMMANDS = new Set(['run', 'demo', 'local', 'check']);
const SILENCE = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
const NEEDED_MAJOR = 22;

export function noteNodeSupport(command: string, args: readonly string[], env: NodeJS.ProcessEnv, write = (line: string) => process.stderr.write(`${line}\n`)): void {
  if (!SDK_COMMANDS.has(command) || args.some((arg) => arg === '--help' || arg === '-h' || arg === '--help-all')) return;
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= NEEDED_MAJOR || env[SILENCE] === 'true') return;
  // Read by the SDK when its client starts, in this process and in every child: said once.
  env[SILENCE] = 'true';
  write(`sqs2pg: note: Node ${process.versions.node} works, but AWS SDK releases after early January 2027 need Node ${NEEDED_MAJOR}`);
}
