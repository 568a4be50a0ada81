// After a mask-key rotation, quarantine records still name their user and their values under the old
// mask key, so forget (which computes the user's key under the current one) would miss them. From each
// record's sealed body, its user key and masks are computed again under the new key. A record without
// a sealed body (quarantined while the vault was off) cannot be: it is counted for the operator.
import type { PoolClient } from '../db/pool.js';
import type { Masker } from '../transform/mask.js';
import { MAX_PARSED_BODY_BYTES, bodyFacts } from '../transform/quarantine-record.js';
import { quarantineContext, type VaultOpener } from '../vault/sealed-box.js';

interface SealedRecordRow {
  id: string;
  vault_key_id: string | null;
  ephemeral_public_key: Buffer | null;
  nonce: Buffer | null;
  ciphertext: Buffer | null;
}

export interface QuarantineRekeying {
  rekeyed: number;
  /** records under an older mask key with no sealed body that a given key opens */
  unsealed: number;
}

/** Runs as the owner (it reads sealed bodies directly), in the caller's transaction. */
export async function rekeyQuarantine(client: PoolClient, masker: Masker, openers: ReadonlyMap<string, VaultOpener>): Promise<QuarantineRekeying> {
  const prefix = `${masker.keyId}:`;
  const records = await client.query<SealedRecordRow>(
    `SELECT q.sqs_message_id AS id, b.vault_key_id, b.ephemeral_public_key, b.nonce, b.ciphertext
       FROM sqs2pg.quarantine q LEFT JOIN sqs2pg_vault.quarantine_bodies b USING (sqs_message_id)
      WHERE q.user_key IS NOT NULL AND left(q.user_key, length($1)) <> $1`,
    [prefix],
  );
  let rekeyed = 0;
  let unsealed = 0;
  for (const row of records.rows) {
    const opener = row.vault_key_id === null ? undefined : openers.get(row.vault_key_id);
    if (!opener || row.ephemeral_public_key === null || row.nonce === null || row.ciphertext === null) {
      unsealed++;
      continue;
    }
    const body = opener
      .open({ vaultKeyId: row.vault_key_id!, ephemeralPublicKey: row.ephemeral_public_key, nonce: row.nonce, ciphertext: row.ciphertext }, quarantineContext(row.id))
      .toString('utf8');
    const bytes = Buffer.byteLength(body, 'utf8');
    const facts = bodyFacts(body, bytes, masker, bytes > MAX_PARSED_BODY_BYTES ? undefined : parsed(body));
    await client.query(
      `UPDATE sqs2pg.quarantine SET user_key = $2, masked_ips = $3::varchar(256)[], masked_device_ids = $4::varchar(256)[] WHERE sqs_message_id = $1`,
      [row.id, facts.userKey, facts.body.maskedIps, facts.body.maskedDeviceIds],
    );
    rekeyed++;
  }
  return { rekeyed, unsealed };
}

function parsed(body: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(body) as unknown };
  } catch {
    return undefined;
  }
}
