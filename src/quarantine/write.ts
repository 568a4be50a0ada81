// The quarantine's part of a batch's transaction: its records, batch-shaped, and (vault on) the
// sealed bodies of the messages they are about. The sink opens the transaction and calls these.
import type { PoolClient } from '../db/pool.js';
import type { Rejection } from '../model/message.js';
import type { SealedItem } from '../vault/sealed-box.js';

/** A quarantined body sealed to the vault's public key (context: quarantineContext(messageId)). */
export interface SealedBody {
  messageId: string;
  sealed: SealedItem;
}

// Masks are passed as array literals (key id, colon, hex: nothing to quote) because unnest would
// flatten an array of arrays; a declared pipeline's masks by label as JSON text (sql/0011). The
// pipeline is one parameter: a batch is one pipeline's. A record is keyed by its pipeline and its
// message id (sql/0014): two pipelines fed by one SNS topic key a message alike, and each keeps its own.
const INSERT_QUARANTINE = `
INSERT INTO sqs2pg.quarantine
  (sqs_message_id, reason, field, detail, receive_count, sent_at, body_bytes, body_sha256, body_shape, masked_ips, masked_device_ids, user_key, masked_values, pipeline)
SELECT id, reason, field, detail, receive_count, to_timestamp(sent_ms / 1000.0), bytes, sha256, shape, ips::varchar(256)[], devices::varchar(256)[], user_key, masked_values::jsonb, $14::text
FROM unnest($1::varchar[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::bigint[], $7::integer[], $8::text[], $9::text[],
            $10::text[], $11::text[], $12::varchar[], $13::text[])
  AS q(id, reason, field, detail, receive_count, sent_ms, bytes, sha256, shape, ips, devices, user_key, masked_values)
ON CONFLICT (pipeline, sqs_message_id) DO NOTHING`;

// One statement per body with binary parameters: an array of bytea would travel as hex text, twice
// the size of bodies that may each be 1 MiB. Quarantined messages are rare, so the round trips are too.
const INSERT_SEALED_BODY = `
INSERT INTO sqs2pg_vault.quarantine_bodies (pipeline, sqs_message_id, vault_key_id, ephemeral_public_key, nonce, ciphertext)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING`;

/** Inserts `pipeline`'s records (a message id already recorded is skipped); resolves to how many were new. */
export async function insertQuarantine(client: Pick<PoolClient, 'query'>, pipeline: string, rejections: readonly Rejection[]): Promise<number> {
  if (rejections.length === 0) return 0;
  return (await client.query(INSERT_QUARANTINE, [...rejectionColumns(rejections), pipeline])).rowCount ?? 0;
}

/** Inserts the sealed bodies of `pipeline`'s records (a body already there is skipped). */
export async function insertSealedBodies(client: Pick<PoolClient, 'query'>, pipeline: string, bodies: readonly SealedBody[]): Promise<void> {
  for (const { messageId, sealed } of bodies) {
    await client.query(INSERT_SEALED_BODY, [pipeline, messageId, sealed.vaultKeyId, sealed.ephemeralPublicKey, sealed.nonce, sealed.ciphertext]);
  }
}

function rejectionColumns(rejections: readonly Rejection[]): unknown[][] {
  return [
    rejections.map((r) => r.messageId),
    rejections.map((r) => r.reason),
    rejections.map((r) => r.field),
    rejections.map((r) => r.detail),
    rejections.map((r) => r.receiveCount),
    rejections.map((r) => r.sentAtMs),
    rejections.map((r) => r.body?.bytes ?? null),
    rejections.map((r) => r.body?.hash ?? null),
    rejections.map((r) => r.body?.shape ?? null),
    rejections.map((r) => (r.body ? `{${r.body.maskedIps.join(',')}}` : null)),
    rejections.map((r) => (r.body ? `{${r.body.maskedDeviceIds.join(',')}}` : null)),
    rejections.map((r) => r.userKey),
    rejections.map((r) => (r.body ? JSON.stringify(r.body.maskedValues) : null)),
  ];
}
