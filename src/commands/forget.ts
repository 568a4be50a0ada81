// sqs2pg forget --user-id <id> | --masked <value>: erasure in one transaction, audited without the
// erased values; says what it removed. --user-id also records a tombstone, so the user's later
// messages (still queued, or redelivered) are never loaded; its keys are checked against the
// database's fingerprints first. Rerunning it is harmless.
import { renderHelp } from '../config/help.js';
import { maskKeyFrom } from '../config/key.js';
import { loadConfig } from '../config/load.js';
import { rethrowRefusal } from '../db/denied.js';
import { assertKnownKeys, keyIdOf } from '../db/key-fingerprints.js';
import { assertReachable, createPool } from '../db/pool.js';
import { inTransaction } from '../db/transaction.js';
import { BEGIN_VAULT_DELETE } from '../db/vault-lock.js';
import { ConfigError } from '../errors.js';
import { createMasker } from '../transform/mask.js';
import { forgetMasked, forgetUserUnder } from '../vault/forget.js';
import { vaultSealerFrom } from '../vault/key-pair.js';

export async function forget(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('forget', args, env);
  if (help) {
    console.log(renderHelp('forget'));
    return 0;
  }
  if ((config.userId === undefined) === (config.masked === undefined)) {
    throw new ConfigError('forget needs exactly one of --user-id <id> or --masked <value>; see: sqs2pg forget --help');
  }
  const maskKey = maskKeyFrom(config);
  if (config.userId !== undefined && !maskKey) {
    throw new ConfigError(
      'forget --user-id needs the mask key the workers use (SQS2PG_MASK_KEY or SQS2PG_MASK_KEY_FILE, and SQS2PG_MASK_KEY_ID): the tombstone that keeps the user out is a keyed hash of the id',
    );
  }
  const sealer = vaultSealerFrom(config);
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    try {
      if (config.userId !== undefined && maskKey) {
        const userId = config.userId;
        // One transaction under the vault's delete lock (forget_user takes it too), which rotate's
        // last step also takes: a key rotate retires is refused here, never used beside it.
        const done = await inTransaction(pool, BEGIN_VAULT_DELETE, async (client) => {
          // Before anything is written: a tombstone under a key no worker uses would match none of
          // their messages, and a user id sealed to a key the vault does not know could never be
          // re-keyed by rotate. A wrong, unknown or retired key stops here (exit 2).
          await assertKnownKeys(client, [
            { purpose: 'mask', keyId: config.maskKeyId, key: maskKey },
            ...(sealer ? [{ purpose: 'vault', keyId: config.vaultKeyId, key: sealer.publicKey } as const] : []),
          ]);
          const maskers = [createMasker(maskKey, config.maskKeyId)];
          const previous = maskKeyFrom({ maskKey: config.maskPreviousKey, maskKeyFile: config.maskPreviousKeyFile });
          if (previous) {
            const previousId = await keyIdOf(client, 'mask', previous);
            if (previousId === undefined) throw new ConfigError("the previous mask key is not a key this database's masks were made with; check SQS2PG_MASK_PREVIOUS_KEY");
            maskers.push(createMasker(previous, previousId));
          }
          return forgetUserUnder(client, userId, maskers, config.reason, sealer);
        });
        console.log(
          `forgot the user: removed ${plural(done.rows, 'row')} of user_logins, ${plural(done.quarantined, 'quarantine record')} and ` +
            `${plural(done.vaultEntries, 'vault entry', 'vault entries')} no other row uses; ` +
            `kept ${plural(done.vaultEntriesKept, 'vault entry', 'vault entries')} other rows still use; ` +
            `a tombstone keeps their later messages out (it has stopped ${plural(done.messagesStopped, 'message')} so far)`,
        );
      } else if (config.masked !== undefined) {
        const done = await forgetMasked(pool, config.masked, config.reason);
        console.log(
          `forgot the value: removed ${plural(done.vaultEntries, 'vault entry', 'vault entries')}; ` +
            `${plural(done.rowsUsingIt, 'row')} of user_logins keep the mask, which can no longer be revealed`,
        );
      }
    } catch (error) {
      rethrowRefusal(error, config.databaseUrl, 'erase');
    }
    return 0;
  } finally {
    await pool.end();
  }
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${new Intl.NumberFormat('en-US').format(count)} ${count === 1 ? one : many}`;
}
