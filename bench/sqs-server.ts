// The benchmark's SQS-protocol server in a process of its own, so its CPU is not the contenders':
// prints {"endpoint": ...} on stdout and runs until SIGTERM.
import { startEmbeddedSqs } from '../src/local/embedded-sqs.js';

const server = await startEmbeddedSqs();
console.log(JSON.stringify({ endpoint: server.endpoint }));
process.on('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
