// Gets a batch committed whatever PostgreSQL says: transient failures are retried with backoff;
// an entry the server refuses is isolated by splitting the batch and written one step simpler
// (a row becomes its quarantine record, a record its minimal record); an entry refused even as a
// minimal record is left to the queue. Only errors no message can fix stop the run.
// Nothing here deletes from SQS: the caller does, after commit.
import { backoffDelayMs, sleep } from '../backoff.js';
import { workerRefusal } from '../db/denied.js';
import { ConnectError, describeError, EXIT, Sqs2pgError } from '../errors.js';
import type { Emit } from '../observability/events.js';
import { classifyFailure } from '../db/sqlstate.js';
import type { PostgresSink, SealedBody, SinkBatch } from '../sink/postgres/sink.js';
import { minimalRejection } from '../transform/message-to-row.js';
import type { PipelineTransform } from '../transform/pipeline-transform.js';
import type { S3Pointer } from '../transform/s3-pointer.js';
import type { InboundMessage, MaskedOriginal, Rejection, TableOutcome, TableRow } from '../model/message.js';
import { sealBatch } from '../vault/seal-batch.js';
import { quarantineContext, type VaultSealer } from '../vault/sealed-box.js';

export interface Entry {
  message: InboundMessage;
  /** the body the transform read when it is not the message's own (an S3 payload): what is kept of a refused one */
  body?: string;
  /** the S3 object that body came from, to delete after commit when asked to */
  s3Object?: S3Pointer;
  outcome: TableOutcome;
  /** vault on: the values behind the row's masks, sealed at commit (deduplicated per batch) */
  originals?: readonly MaskedOriginal[];
}

/** The run is stopping and the batch was not committed: its messages must be released. */
export class WriteAbortedError extends Error {
  constructor() {
    super('write abandoned: the run is stopping');
    this.name = 'WriteAbortedError';
  }
}

export class BatchWriter {
  /** when the current run of transient failures began (any commit ends it) */
  private failingSince: number | undefined;

  constructor(
    private readonly sink: PostgresSink,
    /** the pipeline's transform: a row the database refuses becomes its quarantine record there */
    private readonly transform: Pick<PipelineTransform, 'reject'>,
    private readonly emit: Emit,
    private readonly signal: AbortSignal,
    /** give up after failing this long; null: retry for ever */
    private readonly outageLimitMs: number | null,
    /** vault on: seals the originals of each committed batch, and the whole body of each quarantined message, to the vault's public key */
    private readonly vault: VaultSealer | null = null,
  ) {}

  /**
   * Commits the batch; resolves to the entries that PostgreSQL refused in every form, which the
   * caller must leave to the queue (not delete). Everything else is committed.
   */
  async write(entries: readonly Entry[]): Promise<Entry[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.commit(entries);
        return [];
      } catch (error) {
        const { kind, code } = classifyFailure(error);
        if (kind === 'data') return this.isolate(entries, code);
        if (kind === 'fatal') throw fatalFailure(error, 'in a batch');
        if (this.signal.aborted) throw new WriteAbortedError();
        this.failingSince ??= Date.now();
        if (this.outageLimitMs !== null && Date.now() - this.failingSince > this.outageLimitMs) {
          throw new ConnectError(
            'db_unreachable',
            `PostgreSQL has failed for more than ${Math.round(this.outageLimitMs / 1000)} s (${describeError(error)}); nothing uncommitted was deleted, so those messages return to the queue: fix the database and run again`,
            error,
          );
        }
        const delayMs = backoffDelayMs(attempt);
        this.emit('sink:retry', { attempt, delayMs, code, message: describeError(error) });
        await sleep(delayMs, this.signal);
      }
    }
  }

  /**
   * Splits the batch until the refused entry stands alone, then writes it one step simpler. Any
   * entry may be the one refused (a row, or a record in a database that cannot store it), so the
   * split is blind: log2(batch) more commits per refused entry.
   */
  private async isolate(entries: readonly Entry[], code: string): Promise<Entry[]> {
    if (entries.length === 1) {
      const entry = entries[0]!;
      const simpler = this.simpler(entry, code);
      if (simpler) return this.write([simpler]);
      this.emit('message:leftInQueue', { messageId: entry.message.messageId, code, receiveCount: entry.message.receiveCount });
      return [entry];
    }
    this.emit('sink:split', { size: entries.length, code });
    const middle = Math.ceil(entries.length / 2);
    return [...(await this.write(entries.slice(0, middle))), ...(await this.write(entries.slice(middle)))];
  }

  /** row -> full record (db_rejected) -> minimal record -> nothing simpler (undefined). */
  private simpler({ message, body, s3Object, outcome }: Entry, code: string): Entry | undefined {
    // Recorded under the outcome's id and time (an event unwrapped from an envelope keeps the
    // envelope's key and time, as its row would have), from the body the transform read.
    const read = { body, s3Object };
    if (outcome.kind === 'row') {
      const keyed = { ...message, messageId: outcome.row.messageId, sentAtMs: outcome.row.sentAtMs, body: body ?? message.body };
      return { message, ...read, outcome: { kind: 'rejected', rejection: this.transform.reject(keyed, 'db_rejected', null, code) } };
    }
    if (outcome.rejection.body !== null) {
      const keyed = { ...message, messageId: outcome.rejection.messageId, sentAtMs: outcome.rejection.sentAtMs };
      return { message, ...read, outcome: { kind: 'rejected', rejection: minimalRejection(keyed, code, outcome.rejection.userKey) } };
    }
    return undefined;
  }

  /**
   * Sends every statement a batch of these entries would, then rolls back: at start-up, before a
   * single message is received, so that a refusal no retry fixes (a privilege, a column, a trigger
   * that refuses every row) ends the run before it takes anything from the queue, however often it
   * is started again. Transient failures and a refused row are left to the run, which handles them.
   */
  async rehearse(entries: readonly Entry[]): Promise<void> {
    try {
      await this.sink.rehearse(this.sinkBatch(entries));
    } catch (error) {
      if (classifyFailure(error).kind === 'fatal') throw fatalFailure(error, 'at start-up (a trial batch, rolled back)');
    }
  }

  private sinkBatch(entries: readonly Entry[]): SinkBatch {
    const rows: TableRow[] = [];
    const rejections: Rejection[] = [];
    const rejected: { messageId: string; body: string }[] = [];
    for (const { message, body, outcome } of entries) {
      if (outcome.kind === 'row') rows.push(outcome.row);
      else {
        rejections.push(outcome.rejection);
        // The whole body as received (an S3 payload as fetched), under its record's id (an envelope's key, when unwrapped).
        rejected.push({ messageId: outcome.rejection.messageId, body: body ?? message.body });
      }
    }
    // Only rows get vaulted: a row isolated as db_rejected became an entry without originals.
    const vault = this.vault ? sealBatch(entries.flatMap((entry) => (entry.outcome.kind === 'row' ? (entry.originals ?? []) : [])), this.vault) : [];
    return { rows, rejections, vault, sealedBodies: this.sealBodies(rejected) };
  }

  private async commit(entries: readonly Entry[]): Promise<void> {
    const started = performance.now();
    const batch = this.sinkBatch(entries);
    const { rows, rejections } = batch;
    const result = await this.sink.write(batch);
    this.failingSince = undefined;
    this.emit('batch:committed', {
      rows: result.inserted,
      duplicates: rows.length - result.erasedRows - result.inserted + result.loadedAlready.size,
      quarantined: result.quarantined,
      erased: result.erased,
      durationMs: performance.now() - started,
    });
    for (const rejection of rejections) {
      if (rejection.userKey !== null && result.erasedKeys.has(rejection.userKey)) continue;
      if (result.loadedAlready.has(rejection.messageId)) continue;
      this.emit('message:quarantined', {
        messageId: rejection.messageId,
        reason: rejection.reason,
        field: rejection.field,
        receiveCount: rejection.receiveCount,
      });
    }
  }

  /** One key agreement per commit, one AES-GCM seal per body; the minimal record keeps its body too. */
  private sealBodies(messages: readonly { messageId: string; body: string }[]): SealedBody[] {
    if (!this.vault || messages.length === 0) return [];
    const sealer = this.vault.batch();
    return messages.map((message) => ({ messageId: message.messageId, sealed: sealer.seal(quarantineContext(message.messageId), message.body) }));
  }
}

/**
 * An error PostgreSQL gives every batch alike, so the run stops: a refusal no restart fixes (a
 * privilege, a table or column: exit 5), or one sqs2pg does not know (exit 1: starting again may
 * help, and a supervisor's crash-loop detection bounds how often).
 */
function fatalFailure(error: unknown, when: string): Sqs2pgError {
  return (
    workerRefusal(error, when) ??
    new Sqs2pgError('db_refused', `PostgreSQL refused a write ${when} (${describeError(error)}); check the pipeline's table, its triggers and policies, and the privileges of the database role`, EXIT.crashed, false, { cause: error })
  );
}
