// sqs2pg reveal <masked-value> --reason "...": the original value behind a mask, on stdout only,
// once its audit row is committed. Needs the vault private key (or, for entries written before
// 0.2, the legacy vault key) and a role that may call the vault's reveal functions.
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { rethrowRefusal } from '../db/denied.js';
import { assertReachable, createPool } from '../db/pool.js';
import { ConfigError, Sqs2pgError } from '../errors.js';
import { VaultIntegrityError } from '../vault/cipher.js';
import { vaultKeysFrom } from '../vault/keyring.js';
import { officerKeyring } from '../vault/officer-keyring.js';
import { revealWithAudit } from '../vault/reveal.js';

export async function reveal(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('reveal', args, env);
  if (help) {
    console.log(renderHelp('reveal'));
    return 0;
  }
  const keys = vaultKeysFrom(config);
  if (!keys) {
    throw new ConfigError('reveal needs the vault private key: set SQS2PG_VAULT_PRIVATE_KEY or SQS2PG_VAULT_PRIVATE_KEY_FILE (SQS2PG_VAULT_KEY for entries written before 0.2); see: sqs2pg reveal --help');
  }
  const { masked, reason } = config;
  // Both are required by the schema; this only tells the type checker.
  if (masked === undefined || reason === undefined) throw new ConfigError('reveal needs <masked-value> and --reason; see: sqs2pg reveal --help');
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    let value: string | undefined;
    try {
      // The key ids come from the keys' fingerprints: a key this vault never used opens nothing.
      const keyring = await officerKeyring(pool, keys);
      if (keyring.keyIds.length === 0) {
        throw new ConfigError("no vault key given is a key this database's vault was written with; check SQS2PG_VAULT_PRIVATE_KEY (or SQS2PG_VAULT_KEY for entries written before 0.2)");
      }
      value = await revealWithAudit(pool, masked, reason, (entry) => keyring.openEntry(entry));
    } catch (error) {
      if (error instanceof VaultIntegrityError) {
        throw new Sqs2pgError(
          'vault_integrity',
          `the vault entry of ${masked} does not open with the vault keys given (not the key of its key id, or the entry was altered); nothing was revealed, and the attempt is audited`,
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
