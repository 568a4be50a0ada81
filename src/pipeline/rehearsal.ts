// The messages of a worker's start-up rehearsal: one that becomes a row (and, vault on, vault
// entries) and one that becomes a quarantine record, so that the trial batch sends every statement a
// real batch can. Made up, and rolled back: no person's data, nothing kept. The address is from
// 192.0.2.0/24, reserved for documentation (RFC 5737).
import { randomUUID } from 'node:crypto';
import type { InboundMessage } from '../model/message.js';

export function rehearsalMessages(nowMs: number): InboundMessage[] {
  const id = `sqs2pg-rehearsal-${randomUUID()}`;
  const event = { user_id: 'sqs2pg-rehearsal', app_version: '0.0.0', device_type: 'sqs2pg-rehearsal', ip: '192.0.2.1', locale: null, device_id: 'sqs2pg-rehearsal' };
  return [
    { messageId: `${id}-row`, body: JSON.stringify(event), sentAtMs: nowMs, receiveCount: 1 },
    { messageId: `${id}-record`, body: 'sqs2pg rehearsal: not a login event', sentAtMs: nowMs, receiveCount: 1 },
  ];
}
