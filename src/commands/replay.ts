// sqs2pg replay --reason "..." [--where-reason R] [--limit N]: quarantined messages re-run through
// today's validation and masking, from their sealed bodies. Needs the vault private key (to open
// them; the previous one too while a vault key rotation is under way) and the mask key (to mask
// them as workers do), both checked against the database's fingerprints before anything is opened
// or written; audited per message; safe beside workers.
import { renderHelp } from '../config/help.js';
import { maskKeyFrom } from '../config/key.js';
import { loadConfig } from '../config/load.js';
import { rethrowRefusal } from '../db/denied.js';
import { assertKnownKeys, keyIdInUse } from '../db/key-fingerprints.js';
import { assertReachable, createPool } from '../db/pool.js';
import { requireUserLogins } from '../db/user-logins.js';
import { ConfigError } from '../errors.js';
import { privateKeysFrom, quarantineKeyring, rethrowSealed } from '../quarantine/openers.js';
import { replayQuarantined } from '../pipeline/replay.js';
import { PostgresSink } from '../sink/postgres/sink.js';
import { sinkTargetOf } from '../sink/postgres/conflict-target.js';
import { builtinLogins } from '../config/builtin-pipelines.js';
import { createMasker } from '../transform/mask.js';
import { sealerOfPrivateKey } from '../vault/key-pair.js';
import { publicKeyOf } from '../vault/sealed-box.js';

export async function replay(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('replay', args, env);
  if (help) {
    console.log(renderHelp('replay', help === 'all'));
    return 0;
  }
  const maskKey = maskKeyFrom(config);
  const keys = privateKeysFrom({ ...config, maskKey }, 'replay', 'without the vault there is no original body to replay, only its shape');
  if (!maskKey) throw new ConfigError('replay needs the mask key (SQS2PG_MASK_KEY), to mask replayed rows as workers do; see: sqs2pg replay --help');
  if (config.reason === undefined) throw new ConfigError('replay needs --reason; see: sqs2pg replay --help');
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    try {
      // Replayed rows must match what workers make: masks under a key id its key stands for, and
      // vault entries sealed to the officer's key pair under the id the workers registered it with.
      await assertKnownKeys(pool, [{ purpose: 'mask', keyId: config.maskKeyId, key: maskKey }]);
      const vaultKeyId = await keyIdInUse(pool, 'vault', publicKeyOf(keys.privateKey), 'the vault private key (SQS2PG_VAULT_PRIVATE_KEY)');
      const result = await replayQuarantined(pool, {
        sink: new PostgresSink(pool, sinkTargetOf(builtinLogins(''), await requireUserLogins(pool))),
        masker: createMasker(maskKey, config.maskKeyId),
        opener: await quarantineKeyring(pool, keys),
        vault: sealerOfPrivateKey(keys.privateKey, vaultKeyId),
        reason: config.reason,
        envelope: config.envelope,
        whereReason: config.whereReason,
        limit: config.limit,
      });
      const refused = Object.entries(result.stillRefused).map(([reason, count]) => `${reason} ${count}`);
      const stillRefused = refused.reduce((sum, part) => sum + Number(part.split(' ')[1]), 0);
      console.log(
        `replayed: ${result.loaded} loaded and removed from the quarantine; ${stillRefused} still refused${refused.length ? ` (${refused.join(', ')})` : ''}; ` +
          `${result.withoutBody} without a sealed body (quarantined while the vault was off)`,
      );
      return 0;
    } catch (error) {
      rethrowSealed(error, 'a quarantined message');
      rethrowRefusal(error, config.databaseUrl, 'replay the quarantine');
    }
  } finally {
    await pool.end();
  }
}
