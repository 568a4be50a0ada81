// The library surface: the pure transform, for anyone who wants sqs2pg's validation and masking
// without its pipeline. The CLI (cli.ts) is the main way to use sqs2pg.
export { messageToRow } from './transform/message-to-row.js';
export { createMasker, type Masker, type MaskedField } from './transform/mask.js';
export { canonicalIp } from './transform/ip.js';
export { appVersionToInt } from './transform/app-version.js';
export type { InboundMessage, LoginRow, Outcome, Rejection, RejectReason } from './model/message.js';
