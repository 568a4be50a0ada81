// The one way to a quarantined message's sealed body: sqs2pg_vault.open_quarantined_body, which
// writes the audit row in the caller's transaction (see sql/0006). The body is opened here, with
// the private key, and only after the function has answered.
import type { PoolClient } from '../db/pool.js';
import { quarantineContext, type SealedItem, type VaultOpener } from '../vault/sealed-box.js';

export type BodyAction = 'quarantine_reveal' | 'replay';

interface SealedRow {
  vault_key_id: string;
  ephemeral_public_key: Buffer;
  nonce: Buffer;
  ciphertext: Buffer;
}

/** The sealed body, audited, or undefined when the record has none (vault off when it was written). */
export async function takeSealedBody(client: PoolClient, messageId: string, action: BodyAction, reason: string): Promise<SealedItem | undefined> {
  const result = await client.query<SealedRow>('SELECT * FROM sqs2pg_vault.open_quarantined_body($1, $2, $3)', [messageId, action, reason]);
  const row = result.rows[0];
  if (!row) return undefined;
  return { vaultKeyId: row.vault_key_id, ephemeralPublicKey: row.ephemeral_public_key, nonce: row.nonce, ciphertext: row.ciphertext };
}

/** Openers by key id, made on demand: bodies sealed under several key ids open with one private key each. */
export type OpenerFor = (keyId: string) => VaultOpener;

export function openBody(item: SealedItem, messageId: string, openerFor: OpenerFor): string {
  return openerFor(item.vaultKeyId).open(item, quarantineContext(messageId)).toString('utf8');
}
