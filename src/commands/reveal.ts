// sqs2pg reveal <masked-value> --reason "...": the original value behind a mask, on stdout only,
// once its audit row is committed. Needs the vault key and a role that may read the vault.
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { rethrowRefusal } from '../db/denied.js';
import { keyIdOf } from '../db/key-fingerprints.js';
import { assertReachable, createPool } from '../db/pool.js';
import { revealWithAudit } from '../db/reveal.js';
import { ConfigError, Sqs2pgError } from '../errors.js';
import { VaultIntegrityError } from '../vault/cipher.js';
import { VaultKeyring, vaultKeysFrom } from '../vault/keyring.js';

export async function reveal(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('reveal', args, env);
  if (help) {
    console.log(renderHelp('reveal'));
    return 0;
  }
  const keys = vaultKeysFrom(config);
  if (!keys) throw new ConfigError('reveal needs the vault key: set SQS2PG_VAULT_KEY or SQS2PG_VAULT_KEY_FILE; see: sqs2pg reveal --help');
  const { masked, reason } = config;
  // Both are required by the schema; this only tells the type checker.
  if (masked === undefined || reason === undefined) throw new ConfigError('reveal needs <masked-value> and --reason; see: sqs2pg reveal --help');
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    let value: string | undefined;
    try {
      // The key ids come from the keys' fingerprints: a key this vault never used opens nothing.
      const keyId = await keyIdOf(pool, 'vault', keys.key);
      if (keyId === undefined) throw new ConfigError('the vault key is not a key this database\'s vault was written with; check SQS2PG_VAULT_KEY or SQS2PG_VAULT_KEY_FILE');
      const previousId = keys.previousKey && (await keyIdOf(pool, 'vault', keys.previousKey));
      const keyring = VaultKeyring.of(keys, keyId, previousId);
      value = await revealWithAudit(pool, masked, reason, (entry) => keyring.open(entry));
    } catch (error) {
      if (error instanceof VaultIntegrityError) {
        throw new Sqs2pgError(
          'vault_integrity',
          `the vault entry of ${masked} does not decrypt with the vault key given (wrong key for its key id, or the entry was altered); nothing was revealed or audited`,
          1,
        );
      }
      rethrowRefusal(error, config.databaseUrl, 'read the vault');
    }
    if (value === undefined) {
      throw new Sqs2pgError(
        'vault_not_found',
        `the vault holds no entry for ${masked}: the value was written while the vault was off, was erased (sqs2pg forget), or the mask is from before a key rotation`,
        4,
      );
    }
    process.stdout.write(`${value}\n`);
    return 0;
  } finally {
    await pool.end();
  }
}
