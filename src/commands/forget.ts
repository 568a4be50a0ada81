// sqs2pg forget --user-id <id> | --masked <value>: erasure in one transaction, audited without the
// erased values; says what it removed. --user-id also records a tombstone, so the user's later
// messages (still queued, or redelivered) are never loaded. Rerunning it is harmless.
import { renderHelp } from '../config/help.js';
import { maskKeyFrom } from '../config/key.js';
import { loadConfig } from '../config/load.js';
import { rethrowRefusal } from '../db/denied.js';
import { keyIdOf } from '../db/key-fingerprints.js';
import { assertReachable, createPool } from '../db/pool.js';
import { ConfigError } from '../errors.js';
import { createMasker } from '../transform/mask.js';
import { forgetMasked, forgetUser } from '../vault/forget.js';
import { vaultSealerFrom } from '../vault/key-pair.js';
import { sealUserId } from '../vault/tombstones.js';

export async function forget(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('forget', args, env);
  if (help) {
    console.log(renderHelp('forget', help === 'all'));
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
        const userKey = createMasker(maskKey, config.maskKeyId).userKey(config.userId);
        const userKeys = [userKey];
        const previous = maskKeyFrom({ maskKey: config.maskPreviousKey, maskKeyFile: config.maskPreviousKeyFile });
        if (previous) {
          const previousId = await keyIdOf(pool, 'mask', previous);
          if (previousId === undefined) throw new ConfigError("the previous mask key is not a key this database's masks were made with; check SQS2PG_MASK_PREVIOUS_KEY");
          userKeys.push(createMasker(previous, previousId).userKey(config.userId));
        }
        const done = await forgetUser(pool, config.userId, userKeys, config.reason, sealUserId(sealer, userKey, config.userId));
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
