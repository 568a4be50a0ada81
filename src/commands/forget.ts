// sqs2pg forget --user-id <id> | --pipeline <name> --subject <value> | --masked <value>: erasure in
// one transaction, audited without the erased values; says what it removed. --user-id (the login
// pipeline) and --subject (any registered pipeline) also record a tombstone, so the subject's later
// messages (still queued, or redelivered) are never loaded; their keys are checked against the
// database's fingerprints first. Rerunning it is harmless.
import { renderHelp } from '../config/help.js';
import { maskKeyFrom } from '../config/key.js';
import { loadConfig } from '../config/load.js';
import type { ConfigFor } from '../config/schema.js';
import { rethrowRefusal } from '../db/denied.js';
import { assertKnownKeys, keyIdOf } from '../db/key-fingerprints.js';
import { registeredPipelines } from '../db/pipeline-registry.js';
import { assertReachable, createPool, type PoolClient } from '../db/pool.js';
import { inTransaction } from '../db/transaction.js';
import { BEGIN_VAULT_DELETE } from '../db/vault-lock.js';
import { ConfigError } from '../errors.js';
import { createMasker, type Masker } from '../transform/mask.js';
import { forgetMasked, forgetSubjectUnder, forgetUserUnder, type ForgetUserResult } from '../vault/forget.js';
import { vaultSealerFrom } from '../vault/key-pair.js';
import type { VaultSealer } from '../vault/sealed-box.js';

const ONE_OF = 'forget needs exactly one of --user-id <id>, --pipeline <name> --subject <value> or --masked <value>; see: sqs2pg forget --help';

export async function forget(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('forget', args, env);
  if (help) {
    console.log(renderHelp('forget', help === 'all'));
    return 0;
  }
  if ([config.userId, config.subject, config.masked].filter((given) => given !== undefined).length !== 1) throw new ConfigError(ONE_OF);
  if (config.subject !== undefined && config.pipeline === undefined) {
    throw new ConfigError('forget --subject needs --pipeline <name>: the pipeline whose subject it is (sqs2pg forget --help)');
  }
  if (config.subject === undefined && config.pipeline !== undefined) {
    throw new ConfigError('forget --pipeline goes with --subject <value>; --user-id erases a user of the login pipeline, and --masked one value wherever it is');
  }
  const maskKey = maskKeyFrom(config);
  if ((config.userId !== undefined || config.subject !== undefined) && !maskKey) {
    throw new ConfigError(
      `forget ${config.userId !== undefined ? '--user-id' : '--subject'} needs the mask key the workers use (SQS2PG_MASK_KEY or SQS2PG_MASK_KEY_FILE, and SQS2PG_MASK_KEY_ID): the tombstone that keeps the ${config.userId !== undefined ? 'user' : 'subject'} out is a keyed hash of the id`,
    );
  }
  const sealer = vaultSealerFrom(config);
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    try {
      if (config.userId !== undefined && maskKey) {
        const userId = config.userId;
        const done = await underErasureLock(pool, config, maskKey, sealer, (client, maskers) => forgetUserUnder(client, userId, maskers, config.reason, sealer));
        console.log(`forgot the user: ${removed(done, 'user_logins')}`);
      } else if (config.subject !== undefined && config.pipeline !== undefined && maskKey) {
        const [subject, name] = [config.subject, config.pipeline];
        const { done, table } = await underErasureLock(pool, config, maskKey, sealer, async (client, maskers) => {
          // The officer names a pipeline; the database says which table it is and how its subject is keyed.
          const registered = await registeredPipelines(client);
          const pipeline = registered.find((candidate) => candidate.name === name);
          if (!pipeline) {
            const known = registered.map((candidate) => candidate.name);
            throw new ConfigError(
              `no pipeline ${name} is registered in this database (registered: ${known.length > 0 ? known.join(', ') : 'none'}); ` +
                `the tables' owner registers a pipeline file's pipelines with sqs2pg migrate --config <file>`,
            );
          }
          if (pipeline.subjectColumn === null) {
            throw new ConfigError(`pipeline ${name} declares no subject, so none of its rows can be found by subject; forget --masked <value> erases one value`);
          }
          return { done: await forgetSubjectUnder(client, pipeline, subject, maskers, config.reason, sealer), table: `${pipeline.tableSchema}.${pipeline.tableName}` };
        });
        console.log(`forgot the subject of pipeline ${name}: ${removed(done, table)}`);
      } else if (config.masked !== undefined) {
        const done = await forgetMasked(pool, config.masked, config.reason);
        console.log(
          `forgot the value: removed ${plural(done.vaultEntries, 'vault entry', 'vault entries')}; ` +
            `${plural(done.rowsUsingIt, 'row')} keep the mask (user_logins and every registered pipeline's table), which can no longer be revealed`,
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

/**
 * `erase` in one transaction under the erasure lock (the function it calls takes it too), which
 * rotate's last step also takes: a key rotate retires is refused here, never used beside it. The
 * keys are checked first: a tombstone under a key no worker uses would match none of their
 * messages, and a value sealed to a key the vault does not know could never be re-keyed by rotate.
 * A wrong, unknown or retired key stops here (exit 2), before anything is written.
 */
async function underErasureLock<T>(
  pool: ReturnType<typeof createPool>,
  config: ConfigFor<'forget'>,
  maskKey: Buffer,
  sealer: VaultSealer | undefined,
  erase: (client: PoolClient, maskers: Masker[]) => Promise<T>,
): Promise<T> {
  return inTransaction(pool, BEGIN_VAULT_DELETE, async (client) => {
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
    return erase(client, maskers);
  });
}

function removed(done: ForgetUserResult, table: string): string {
  return (
    `removed ${plural(done.rows, 'row')} of ${table}, ${plural(done.quarantined, 'quarantine record')} and ` +
    `${plural(done.vaultEntries, 'vault entry', 'vault entries')} no other row uses; ` +
    `kept ${plural(done.vaultEntriesKept, 'vault entry', 'vault entries')} other rows still use; ` +
    `a tombstone keeps their later messages out (it has stopped ${plural(done.messagesStopped, 'message')} so far)`
  );
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${new Intl.NumberFormat('en-US').format(count)} ${count === 1 ? one : many}`;
}
