// The quarantine through a key change. A vault key rotation re-seals each sealed body to the new key
// pair (resealBodies), so it still opens once the old private key is destroyed. After a mask-key
// rotation, records still name their user and their values under the old mask key, so forget (which
// computes the user's key under the current one) would miss them: from each record's sealed body,
// its user key and masks are computed again under the new key (rekeyQuarantine). A record without a
// sealed body (quarantined while the vault was off) cannot be: it is counted for the operator. A
// declared pipeline's record is read again with its spec (its fields' paths, which the database does
// not keep); without it, it is left as it is and counted, never re-read by the login event's rules.
// Both run as the owner (they read sealed bodies directly), in the caller's transaction, a batch at
// a time in message-id order, holding at most BATCH_BODY_BYTES of bodies: each may be 1 MiB.
import { BUILTIN_LOGINS_NAME } from '../config/builtin-pipelines.js';
import type { PoolClient } from '../db/pool.js';
import type { PipelineSpec } from '../model/pipeline.js';
import type { VaultKeyring } from '../vault/keyring.js';
import { inBatches, type RotationOptions } from '../vault/rotation.js';
import type { RotationStore } from '../vault/rotation-store.js';
import type { Masker } from '../transform/mask.js';
import { MAX_PARSED_BODY_BYTES, bodyFacts } from '../transform/quarantine-record.js';
import { quarantineContext, type SealedItem, type SealedItemOpener, type VaultSealer } from '../vault/sealed-box.js';

/** Bodies held at once by one batch (at least one body, whatever its size). */
export const BATCH_BODY_BYTES = 8 * 1024 * 1024;

interface SealedRecordRow {
  id: string;
  pipeline: string;
  vault_key_id: string | null;
  ephemeral_public_key: Buffer | null;
  nonce: Buffer | null;
  ciphertext: Buffer | null;
}

function sealedOf(row: SealedRecordRow): SealedItem | undefined {
  if (row.vault_key_id === null || row.ephemeral_public_key === null || row.nonce === null || row.ciphertext === null) return undefined;
  return { vaultKeyId: row.vault_key_id, ephemeralPublicKey: row.ephemeral_public_key, nonce: row.nonce, ciphertext: row.ciphertext };
}

/** A record's key (sql/0014): two pipelines may each hold a record of one message id. */
interface RecordKey {
  id: string;
  pipeline: string;
}

// A batch's cursor is the last record's key in (message id, pipeline) order, carried as one string
// (inBatches'): the id, a tab, the pipeline, whose name never holds a tab. A bare message id (no tab)
// starts at that id's records.
function cursorOf(key: RecordKey | undefined): string | undefined {
  return key && `${key.id}\t${key.pipeline}`;
}

function positionOf(after: string): [id: string, pipeline: string] {
  const tab = after.lastIndexOf('\t');
  return tab < 0 ? [after, ''] : [after.slice(0, tab), after.slice(tab + 1)];
}

/** The first of `rows` (key, bytes) that fit in BATCH_BODY_BYTES together, at least one. */
function withinBudget(rows: readonly (RecordKey & { bytes: number | null })[]): RecordKey[] {
  const keys: RecordKey[] = [];
  let bytes = 0;
  for (const row of rows) {
    bytes += row.bytes ?? 0;
    if (keys.length > 0 && bytes > BATCH_BODY_BYTES) break;
    keys.push({ id: row.id, pipeline: row.pipeline });
  }
  return keys;
}

/** The parameters `(pipeline, sqs_message_id) IN (SELECT * FROM unnest($n::text[], $n+1::varchar[]))` takes. */
function keyArrays(keys: readonly RecordKey[]): [string[], string[]] {
  return [keys.map((key) => key.pipeline), keys.map((key) => key.id)];
}

export interface BodyResealing {
  /** the cursor for the next batch; undefined when this one found nothing */
  last: string | undefined;
  resealed: number;
}

/** A vault key rotation: re-seals to `sealer`'s key pair a batch of the bodies sealed under another key id. */
export async function resealBodies(client: PoolClient, after: string, limit: number, opener: SealedItemOpener, sealer: VaultSealer): Promise<BodyResealing> {
  const [afterId, afterPipeline] = positionOf(after);
  const candidates = await client.query<RecordKey & { bytes: number | null }>(
    `SELECT sqs_message_id AS id, pipeline, octet_length(ciphertext) AS bytes FROM sqs2pg_vault.quarantine_bodies
      WHERE (sqs_message_id, pipeline) > ($1, $2) AND vault_key_id <> $3 ORDER BY sqs_message_id, pipeline LIMIT $4 FOR UPDATE`,
    [afterId, afterPipeline, sealer.keyId, limit],
  );
  const keys = withinBudget(candidates.rows);
  if (keys.length === 0) return { last: undefined, resealed: 0 };
  const rows = await client.query<SealedRecordRow>(
    `SELECT sqs_message_id AS id, pipeline, vault_key_id, ephemeral_public_key, nonce, ciphertext FROM sqs2pg_vault.quarantine_bodies
      WHERE (pipeline, sqs_message_id) IN (SELECT * FROM unnest($1::text[], $2::varchar[])) ORDER BY sqs_message_id, pipeline`,
    keyArrays(keys),
  );
  const batch = sealer.batch();
  for (const row of rows.rows) {
    const context = quarantineContext(row.id);
    const sealed = batch.seal(context, opener.open(sealedOf(row)!, context));
    // One statement per body, with binary parameters: bodies are rare, and may each be 1 MiB.
    await client.query(
      'UPDATE sqs2pg_vault.quarantine_bodies SET vault_key_id = $3, ephemeral_public_key = $4, nonce = $5, ciphertext = $6 WHERE pipeline = $1 AND sqs_message_id = $2',
      [row.pipeline, row.id, sealed.vaultKeyId, sealed.ephemeralPublicKey, sealed.nonce, sealed.ciphertext],
    );
  }
  return { last: cursorOf(keys.at(-1)), resealed: rows.rows.length };
}

export interface QuarantineRekeying {
  rekeyed: number;
  /** records under an older mask key with no sealed body (quarantined with the vault off) */
  unsealed: number;
  /** records of a pipeline whose spec was not given: left under the older key */
  undeclared: number;
  /** the cursor for the next batch; undefined when this one found nothing */
  last: string | undefined;
}

// Records with a user key, a mask or a body hash under another mask key id.
const UNDER_OTHER_MASK_KEY = `(left(q.user_key, length($1)) <> $1
   OR left(q.body_sha256, length($1)) <> $1
   OR EXISTS (SELECT 1 FROM unnest(coalesce(q.masked_ips, '{}') || coalesce(q.masked_device_ids, '{}')) AS m WHERE left(m, length($1)) <> $1)
   OR EXISTS (SELECT 1 FROM jsonb_each(coalesce(q.masked_values, '{}')) AS l, jsonb_array_elements_text(l.value) AS m WHERE left(m, length($1)) <> $1))`;

/** Records of other mask key ids with a sealed body: what a rerun of rotate could still re-key. */
export async function rekeyableRecords(client: PoolClient, maskKeyId: string): Promise<number> {
  const result = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM sqs2pg.quarantine q JOIN sqs2pg_vault.quarantine_bodies b USING (pipeline, sqs_message_id) WHERE ${UNDER_OTHER_MASK_KEY}`,
    [`${maskKeyId}:`],
  );
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * Re-keys a batch of the records under other mask key ids (all of them by default). `pipelines`:
 * the declared pipelines by name, whose records are read with their spec; the login pipeline's
 * (`logins`, or a builtin under another name) need none.
 */
export async function rekeyQuarantine(
  client: PoolClient,
  masker: Masker,
  opener: SealedItemOpener,
  { after = '', limit = null, pipelines = NO_PIPELINES }: { after?: string; limit?: number | null; pipelines?: ReadonlyMap<string, PipelineSpec> } = {},
): Promise<QuarantineRekeying> {
  const prefix = `${masker.keyId}:`;
  const [afterId, afterPipeline] = positionOf(after);
  const candidates = await client.query<RecordKey & { bytes: number | null }>(
    `SELECT q.sqs_message_id AS id, q.pipeline, octet_length(b.ciphertext) AS bytes
       FROM sqs2pg.quarantine q LEFT JOIN sqs2pg_vault.quarantine_bodies b USING (pipeline, sqs_message_id)
      WHERE (q.sqs_message_id, q.pipeline) > ($2, $4) AND ${UNDER_OTHER_MASK_KEY}
      ORDER BY q.sqs_message_id, q.pipeline LIMIT $3 FOR UPDATE OF q`,
    [prefix, afterId, limit, afterPipeline],
  );
  const keys = limit === null ? candidates.rows : withinBudget(candidates.rows);
  const result: QuarantineRekeying = { rekeyed: 0, unsealed: 0, undeclared: 0, last: cursorOf(keys.at(-1)) };
  if (keys.length === 0) return result;
  const records = await client.query<SealedRecordRow>(
    `SELECT q.sqs_message_id AS id, q.pipeline, b.vault_key_id, b.ephemeral_public_key, b.nonce, b.ciphertext
       FROM sqs2pg.quarantine q LEFT JOIN sqs2pg_vault.quarantine_bodies b USING (pipeline, sqs_message_id)
      WHERE (q.pipeline, q.sqs_message_id) IN (SELECT * FROM unnest($1::text[], $2::varchar[])) ORDER BY q.sqs_message_id, q.pipeline`,
    keyArrays(keys),
  );
  for (const row of records.rows) {
    const spec = pipelines.get(row.pipeline);
    if (row.pipeline !== BUILTIN_LOGINS_NAME && !spec) {
      result.undeclared++;
      continue;
    }
    const sealed = sealedOf(row);
    if (!sealed) {
      result.unsealed++;
      continue;
    }
    // SealedItemError for an altered one: rotate checked that a key given opens each key id.
    const body = opener.open(sealed, quarantineContext(row.id)).toString('utf8');
    const bytes = Buffer.byteLength(body, 'utf8');
    const facts = bodyFacts(body, bytes, masker, bytes > MAX_PARSED_BODY_BYTES ? undefined : parsed(body), spec);
    await client.query(
      `UPDATE sqs2pg.quarantine SET user_key = $2, masked_ips = $3::varchar(256)[], masked_device_ids = $4::varchar(256)[], body_sha256 = $5,
              masked_values = $6::jsonb
        WHERE sqs_message_id = $1 AND pipeline = $7`,
      [row.id, facts.userKey, facts.body.maskedIps, facts.body.maskedDeviceIds, facts.body.hash, JSON.stringify(facts.body.maskedValues), row.pipeline],
    );
    result.rekeyed++;
  }
  return result;
}

/** rotate's pass over the bodies: every body not sealed to `sealer`'s key pair, re-sealed to it. */
export async function resealQuarantineBodies(store: RotationStore, keyring: VaultKeyring, sealer: VaultSealer, options: RotationOptions): Promise<number> {
  return inBatches('vault bodies', options, (after) =>
    store.inTransaction(async (client) => {
      const batch = await resealBodies(client, after, options.batchRows, keyring, sealer);
      return { last: batch.last, items: batch.resealed, changed: batch.resealed };
    }),
  );
}

/** rotate's pass over the records: every record under another mask key id, re-keyed from its sealed body. */
export async function rekeyQuarantineRecords(
  store: RotationStore,
  masker: Masker,
  keyring: VaultKeyring,
  options: RotationOptions,
  pipelines: ReadonlyMap<string, PipelineSpec> = NO_PIPELINES,
): Promise<Omit<QuarantineRekeying, 'last'>> {
  const totals = { rekeyed: 0, unsealed: 0, undeclared: 0 };
  await inBatches('mask quarantine', options, (after) =>
    store.inTransaction(async (client) => {
      const batch = await rekeyQuarantine(client, masker, keyring, { after, limit: options.batchRows, pipelines });
      totals.rekeyed += batch.rekeyed;
      totals.unsealed += batch.unsealed;
      totals.undeclared += batch.undeclared;
      return { last: batch.last, items: batch.rekeyed + batch.unsealed + batch.undeclared, changed: batch.rekeyed };
    }),
  );
  return totals;
}

const NO_PIPELINES: ReadonlyMap<string, PipelineSpec> = new Map();

function parsed(body: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(body) as unknown };
  } catch {
    return undefined;
  }
}
