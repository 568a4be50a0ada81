// The one typed event map: everything observable about a run. Logs, the run report, the metrics,
// the readiness state and the progress line subscribe to it. Payloads never carry personal data: ids, counts, codes, durations.
import { EventEmitter } from 'node:events';
import type { RejectReason } from '../model/message.js';

export type SqsOperation = 'receive' | 'delete' | 'release' | 'extend' | 'postpone' | 'depth';

export interface EventMap {
  /** one per ReceiveMessage answer, empty ones too; `redelivered`: ApproximateReceiveCount > 1 */
  'source:received': { count: number; redelivered: number };
  /** messages in hand (received, neither deleted nor released), after it changed */
  'source:held': { count: number };
  /** the queue's own counts (GetQueueAttributes), polled on an interval and at each drain check */
  'source:depth': {
    visible: number;
    inFlight: number;
    delayed: number;
    /** messages this run had deleted when the count was asked for: the rest of what it did may still be counted in flight */
    deletedBefore?: number;
  };
  'source:deleted': { count: number };
  /** entries of a DeleteMessageBatch that failed; given up ones are redelivered and skipped as duplicates */
  'source:deletePartialFailure': { count: number; code: string; willRetry: boolean };
  'source:released': { count: number };
  /** messages let go without a call when a run ends on a failure: they reappear after the visibility timeout */
  'source:left': { count: number; visibilityTimeoutSec: number };
  'source:extended': { count: number };
  /** the endpoint refused the first protocol (auto): the run uses `to` from now on */
  'source:protocolSwitched': { from: 'json' | 'query'; to: 'json' | 'query'; answer: string };
  'source:error': { operation: SqsOperation; code: string; message: string; retryInMs: number | null };
  /** an S3 payload (extended client pointer) could not be fetched for now (the message goes back), or deleted after commit */
  'payload:error': { operation: 'get' | 'delete'; code: string; message: string };
  'message:quarantined': { messageId: string; reason: RejectReason; field: string | null; receiveCount: number };
  /** erased: messages of users erased by sqs2pg forget (tombstoned), dropped and deleted from the queue */
  'batch:committed': { rows: number; duplicates: number; quarantined: number; erased?: number; durationMs: number };
  /**
   * PostgreSQL refused a message even as a minimal quarantine record (SQLSTATE `code`): it is left
   * in the queue, not deleted, its visibility backed off; the queue's redrive policy takes it from there.
   */
  'message:leftInQueue': { messageId: string; code: string; receiveCount: number };
  'sink:retry': { attempt: number; delayMs: number; code: string; message: string };
  'sink:split': { size: number; code: string };
  /** connected, migrated, polling */
  'pipeline:started': { pollers: number };
  'pipeline:stopping': { reason: string; inFlight: number };
  'pipeline:drained': { durationMs: number };
  /** one committed batch of sqs2pg rotate: rows re-masked (mask; a pipeline's) or vault entries re-encrypted (vault) */
  'rotate:batch': { pass: 'mask' | 'mask tombstones' | 'mask quarantine' | 'vault' | 'vault bodies' | 'vault tombstones'; items: number; changed: number; doneSoFar: number };
}

export type EventName = keyof EventMap;
/** Every payload may name the pipeline it is about (withPipeline adds it); absent: the run as a whole. */
export type Payload<K extends EventName> = EventMap[K] & { pipeline?: string };
export type Emit = <K extends EventName>(name: K, payload: Payload<K>) => void;

/** An emit that names `pipeline` in every payload: what one pipeline of a run emits through. */
export function withPipeline(emit: Emit, pipeline: string): Emit {
  return (name, payload) => emit(name, { ...payload, pipeline });
}

export class EventBus {
  private readonly emitter = new EventEmitter();

  readonly emit: Emit = (name, payload) => {
    this.emitter.emit(name, payload);
  };

  on<K extends EventName>(name: K, listener: (payload: Payload<K>) => void): this {
    this.emitter.on(name, listener);
    return this;
  }
}
