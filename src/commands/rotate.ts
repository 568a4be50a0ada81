// sqs2pg rotate: brings existing data to the configured keys, while workers keep loading. Everything
// sealed to the vault under another key (entries, legacy v1 entries included; quarantined bodies;
// erased users' sealed ids) is re-sealed to the public key of the vault private key given (the old
// keys given as previous or legacy keys); with a mask key given, every registered pipeline's rows
// are re-masked under it from the vault's originals (masked columns, and keyed subjects from their
// sealed values; a sealed column's references are under no key), the entries of the old masks that
// no row uses any more are deleted, tombstones get a twin and quarantine records their user key and
// masks under the new mask key id.
// When nothing is left under an old key id, rotate retires it: every command refuses that key from
// then on, and its owner is told it may be destroyed. Interrupted, it resumes when run again. Run as
// the tables' owner: it reads every ciphertext.
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { rethrowRefusal } from '../db/denied.js';
import { maskKeyFrom } from '../config/key.js';
import { assertKeyFingerprints, retireKeyIdsBut } from '../db/key-fingerprints.js';
import { migrate } from '../db/migrate.js';
import { assertReachable, createPool, type Pool, type PoolClient } from '../db/pool.js';
import { requireUserLogins } from '../db/user-logins.js';
import { registeredPipelines, registrationOf, type RegisteredPipeline } from '../db/pipeline-registry.js';
import { builtinLogins } from '../config/builtin-pipelines.js';
import { ConfigError, Sqs2pgError } from '../errors.js';
import { EventBus } from '../observability/events.js';
import { createLogger, logEvents, resolveLogFormat } from '../observability/logger.js';
import { colorWanted } from '../observability/progress.js';
import { createMasker, type Masker } from '../transform/mask.js';
import { VaultIntegrityError } from '../vault/cipher.js';
import { sealerOfPrivateKey } from '../vault/key-pair.js';
import { vaultKeysFrom, type VaultKeyring, type VaultKeys } from '../vault/keyring.js';
import { keyIdsOf, officerKeyring } from '../vault/officer-keyring.js';
import { reencryptVault, remaskRows, resealTombstoneIds, twinTombstones, type RotationOptions } from '../vault/rotation.js';
import { RotationStore, type RowsLeft, type SealedCounts } from '../vault/rotation-store.js';
import { rotationScope, type RotationScope } from '../vault/rotation-targets.js';
import { publicKeyOf, SealedItemError, type VaultSealer } from '../vault/sealed-box.js';
import { loadPipelineFile } from '../config/pipeline-file.js';
import type { PipelineSpec } from '../model/pipeline.js';
import { rekeyableRecords, rekeyQuarantineRecords, resealQuarantineBodies } from '../quarantine/rekey.js';
import { rotateTombstones } from '../vault/tombstones.js';
import { stopOnSignals } from './stop-on-signals.js';

export async function rotate(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('rotate', args, env);
  if (help) {
    console.log(renderHelp('rotate', help === 'all'));
    return 0;
  }
  const keys = vaultKeysFrom({ ...config, maskKey: maskKeyFrom(config) });
  if (!keys?.privateKey) {
    throw new ConfigError(
      'rotate needs the vault private key, which opens the originals and whose public key entries are re-sealed to: set SQS2PG_VAULT_PRIVATE_KEY or SQS2PG_VAULT_PRIVATE_KEY_FILE; see: sqs2pg rotate --help',
    );
  }
  const givenMaskKey = maskKeyFrom(config);
  const maskKey = givenMaskKey && { key: givenMaskKey, keyId: config.maskKeyId };
  const bus = new EventBus();
  const logger = createLogger(config.logLevel, { format: resolveLogFormat(config.logFormat, process.stderr), color: colorWanted(process.stderr, env) });
  logEvents(bus, logger);
  const stopping = new AbortController();
  const signals = stopOnSignals(() => process.exit(130));
  signals.attach({ stop: () => stopping.abort() });
  // A declared pipeline's quarantine records are re-read by its declaration, which only the file holds.
  const declared = new Map<string, PipelineSpec>(config.config === undefined ? [] : loadPipelineFile(config.config, env).pipelines.map((spec) => [spec.name, spec]));
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    const options = { batchRows: config.batchMaxRows, pauseMs: config.rotatePauseMs, emit: bus.emit, signal: stopping.signal };
    const lines = await rotateWith(pool, keys, config.vaultKeyId, maskKey, config.reason, options, declared).catch((error: unknown) => {
      if (error instanceof VaultIntegrityError) {
        throw new Sqs2pgError(
          'vault_integrity',
          `the vault entry of ${error.maskedValue} does not decrypt with its key (the key is wrong for its key id, or the entry was altered); batches done so far are committed`,
          1,
        );
      }
      if (error instanceof SealedItemError) {
        throw new Sqs2pgError(
          'vault_integrity',
          "a quarantined body or an erased user's sealed id does not open with the key of its key id (the key is wrong for its key id, or the record was altered); batches done so far are committed",
          1,
        );
      }
      return rethrowRefusal(error, config.databaseUrl, 'rotate keys');
    });
    console.log(lines.join('\n'));
    return 0;
  } finally {
    signals.dispose();
    await pool.end();
  }
}

async function rotateWith(
  pool: Pool,
  keys: VaultKeys,
  vaultKeyId: string,
  maskKey: { key: Buffer; keyId: string } | undefined,
  reason: string | undefined,
  options: RotationOptions,
  declared: ReadonlyMap<string, PipelineSpec>,
): Promise<string[]> {
  await migrate(pool);
  const privateKey = keys.privateKey!;
  // The keys rotate moves to: recorded if new, refused if another key holds the id or the id is retired.
  await assertKeyFingerprints(pool, [
    { purpose: 'vault', keyId: vaultKeyId, key: publicKeyOf(privateKey) },
    ...(maskKey ? [{ purpose: 'mask', ...maskKey } as const] : []),
  ]);
  const masker = maskKey && createMasker(maskKey.key, maskKey.keyId);
  const ids = await keyIdsOf(pool, keys);
  const unknown = (['previousPrivateKey', 'legacyKey', 'legacyPreviousKey'] as const).filter((which) => keys[which] !== undefined && ids[which] === undefined);
  if (unknown.length > 0) {
    throw new ConfigError(`a previous or legacy vault key given is not a key this database's vault was written with (${unknown.join(', ')}); check the keys`);
  }
  const keyring = await officerKeyring(pool, keys);
  const sealer = sealerOfPrivateKey(privateKey, vaultKeyId);

  const client = await pool.connect();
  const store = new RotationStore(client);
  try {
    if (!(await store.tryLock())) {
      throw new Sqs2pgError('rotate_running', 'another sqs2pg rotate is running on this database; wait for it to finish (or stop it: a rerun resumes)', 1);
    }
    // Whatever no key given opens would be left behind under a key the officer may then destroy:
    // refused before anything moves.
    const unopenable = [...(await store.sealedByKeyId())].filter(
      ([id, counts]) => !keyring.keyIds.includes(id) || ((counts.bodies > 0 || counts.tombstones > 0) && !keyring.sealedKeyIds.includes(id)),
    );
    if (unopenable.length > 0) {
      const [id, counts] = unopenable[0]!;
      const what = sealedText(counts);
      throw new ConfigError(
        `${what} ${counts.entries + counts.bodies + counts.tombstones === 1 ? 'is' : 'are'} under vault key id "${id}", which no key given opens; set SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY (or SQS2PG_VAULT_KEY for entries written before 0.2) to that key`,
      );
    }
    const startedAt = await store.now();
    const lines: string[] = [];
    const detail: Record<string, string | number> = { vault_key_id: vaultKeyId };
    // Everything sealed moves to the new key pair: entries, quarantined bodies, tombstones' user ids.
    const reencrypted = await reencryptVault(store, keyring, sealer, options);
    const bodies = await resealQuarantineBodies(store, keyring, sealer, options);
    const tombstoneIds = await resealTombstoneIds(store, keyring, sealer, options);
    lines.push(`re-sealed ${n(reencrypted)} vault entries to vault key id "${vaultKeyId}"`);
    lines.push(`re-sealed ${n(bodies)} quarantined bodies and ${n(tombstoneIds)} erased users' sealed ids to vault key id "${vaultKeyId}"`);
    Object.assign(detail, { reencrypted, bodies_resealed: bodies, tombstones_resealed: tombstoneIds });
    let maskRetirable = false;
    if (masker && !options.signal.aborted) {
      const scope = await rotationScope(client, await pipelinesToRotate(client));
      const perPipeline = new Map<string, { remasked: number; left?: RowsLeft }>();
      let entriesAdded = 0;
      for (const target of scope.targets) {
        if (options.signal.aborted) break;
        const remasked = await remaskRows(store, target, masker, keyring, sealer, options);
        perPipeline.set(target.pipeline, { remasked: remasked.rowsRemasked });
        entriesAdded += remasked.entriesAdded;
      }
      const rowsRemasked = sum([...perPipeline.values()].map((p) => p.remasked));
      detail.mask_key_id = masker.keyId;
      detail.rows_remasked = rowsRemasked;
      lines.push(`re-masked ${n(rowsRemasked)} rows under mask key id "${masker.keyId}" (${n(entriesAdded)} new vault entries)`);
      for (const missing of scope.missing) lines.push(`pipeline "${missing.pipeline}": ${missing.table} has no column to re-mask (not there, or not migrated yet): skipped`);
      if (!options.signal.aborted) {
        const shredded = await store.deleteUnusedEntriesOfOtherMaskKeys(masker.keyId, scope.targets);
        for (const target of scope.targets) perPipeline.get(target.pipeline)!.left = await store.rowsNotOn(masker.keyId, target);
        const lefts = [...perPipeline.values()].map((p) => p.left!);
        const left = {
          rows: sum(lefts.map((l) => l.rows)),
          remaskable: sum(lefts.map((l) => l.remaskable)),
          withoutMessageId: sum(lefts.map((l) => l.withoutMessageId)),
        };
        detail.entries_deleted = shredded;
        detail.rows_left = left.rows;
        lines.push(`deleted ${n(shredded)} vault entries of older masks that no row uses any more`);
        const tombstones = await twinTombstones(store, masker, keyring, sealer, options);
        detail.tombstones_rekeyed = tombstones.rekeyed;
        lines.push(`gave ${n(tombstones.rekeyed)} tombstones of erased users a twin under mask key id "${masker.keyId}"`);
        if (tombstones.unsealed > 0) {
          lines.push(
            `${n(tombstones.unsealed)} tombstones under older mask keys hold no sealed user id (forgotten with the vault off): run sqs2pg forget --user-id again for those users with the new mask key, or workers on it will not stop their messages`,
          );
        }
        const quarantine = await rekeyQuarantineRecords(store, masker, keyring, options, declared);
        detail.quarantine_rekeyed = quarantine.rekeyed;
        lines.push(`re-keyed ${n(quarantine.rekeyed)} quarantine records under mask key id "${masker.keyId}"`);
        if (quarantine.undeclared > 0) {
          lines.push(
            `${n(quarantine.undeclared)} quarantine records of declared pipelines keep the older mask key: run rotate again with the workers' pipeline file (--config) to re-key them`,
          );
        }
        if (quarantine.unsealed > 0) {
          lines.push(
            `${n(quarantine.unsealed)} quarantine records under older mask keys hold no sealed body (quarantined with the vault off): forget --user-id with the new mask key will not find them`,
          );
        }
        const stuck = left.rows - left.remaskable;
        if (left.rows === 0) lines.push(`every row is under mask key id "${masker.keyId}"`);
        if (left.remaskable > 0) {
          lines.push(`${n(left.remaskable)} rows written meanwhile under an older mask key can still be re-masked: run rotate again once every worker has the new key`);
        }
        if (stuck > 0) {
          const foreign = left.withoutMessageId > 0 ? ` (${n(left.withoutMessageId)} of them not written by sqs2pg)` : '';
          lines.push(`${n(stuck)} rows keep older masks for good${foreign}: their values are not in the vault (written while it was off, or erased)`);
        }
        lines.push(...pipelineLines(scope, perPipeline));
        maskRetirable = !options.signal.aborted && left.remaskable === 0;
      }
    }
    if (options.signal.aborted) lines.push('stopped by a signal before the end: run sqs2pg rotate again to resume');
    else lines.push(...(await retireOldKeys(store, vaultKeyId, masker, maskRetirable, keyring, sealer, startedAt)));
    await store.audit({ action: 'rotate', reason, detail });
    await store.unlock();
    return lines;
  } finally {
    client.release();
  }
}

/**
 * The last step: once nothing is sealed to another vault key id (nothing keyed by another mask key
 * id is left to re-key), those ids are retired, and every command refuses their keys from then on:
 * the old keys may be destroyed. Otherwise, what is left and what to do. Tombstones forgotten under
 * only an old mask key while the rotation ran are given their twin here, where no forget can commit
 * beside it.
 */
async function retireOldKeys(
  store: RotationStore,
  vaultKeyId: string,
  masker: Masker | undefined,
  maskRetirable: boolean,
  keyring: VaultKeyring,
  sealer: VaultSealer,
  startedAt: Date,
): Promise<string[]> {
  return store.finishing(async (client) => {
    const lines: string[] = [];
    const left = await store.sealedNotUnder(vaultKeyId);
    if (left.entries + left.bodies + left.tombstones > 0) {
      lines.push(
        `${sealedText(left)} written meanwhile ${left.entries + left.bodies + left.tombstones === 1 ? 'is' : 'are'} still sealed to an older vault key (a worker, or forget, given its public key): run sqs2pg rotate again once every worker has the new key, and keep the old private key until it says the old key id is retired`,
      );
    } else {
      const retired = await retireKeyIdsBut(client, 'vault', vaultKeyId);
      for (const id of retired) {
        lines.push(`vault key id "${id}" is retired: nothing is sealed to it any more, and sqs2pg refuses its keys from now on (the database refuses what a worker still given its public key would seal, and that worker stops); its private key may be destroyed`);
      }
    }
    if (masker && maskRetirable) {
      // Erasures made under an old mask key alone while this ran: their twins, now, under the lock.
      await rotateTombstones(client, masker, keyring, sealer, { since: new Date(startedAt.getTime() - LATE_FORGET_MARGIN_MS) });
      const rekeyable = await rekeyableRecords(client, masker.keyId);
      if (rekeyable === 0) {
        const retired = await retireKeyIdsBut(client, 'mask', masker.keyId);
        for (const id of retired) {
          lines.push(`mask key id "${id}" is retired: everything that can be re-keyed is under "${masker.keyId}", and sqs2pg refuses its key from now on (the database refuses what a worker still given it would write, and that worker stops); the old mask key may be destroyed`);
        }
      } else {
        lines.push(`${n(rekeyable)} quarantine records written meanwhile are still under an older mask key: run sqs2pg rotate again once every worker has the new key`);
      }
    }
    return lines;
  });
}

/**
 * Every registered pipeline, and the login pipeline from user_logins itself while the registry does
 * not name it (a database migrated before pipelines were registered).
 */
async function pipelinesToRotate(client: PoolClient): Promise<(RegisteredPipeline & { table?: string })[]> {
  const registered = await registeredPipelines(client);
  if (registered.some((pipeline) => pipeline.builtin)) return registered;
  // On the rotation's own connection (outside a transaction): the pool has no other.
  const table = await requireUserLogins(client);
  return [{ ...registrationOf(builtinLogins(''), ''), table: table.name }, ...registered];
}

/** Per pipeline, when there are several: what was re-masked, and what keeps an older key. */
function pipelineLines(scope: RotationScope, perPipeline: ReadonlyMap<string, { remasked: number; left?: RowsLeft }>): string[] {
  const lines: string[] = [];
  for (const target of scope.targets) {
    const done = perPipeline.get(target.pipeline);
    if (!done?.left) continue;
    if (scope.targets.length > 1) {
      const stuck = done.left.rows - done.left.remaskable;
      lines.push(`pipeline "${target.pipeline}": re-masked ${n(done.remasked)} rows; ${n(done.left.remaskable)} can still be re-masked; ${n(stuck)} keep older masks for good`);
    }
    if (done.left.subjectKeysLeft > 0) {
      lines.push(
        `pipeline "${target.pipeline}": ${n(done.left.subjectKeysLeft)} rows keep their subject key under an older mask key (their subject is not sealed in the vault: written while it was off, or erased): once that key is retired, forget --subject cannot find them`,
      );
    }
  }
  return lines;
}

const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);

/** A forget's transaction is short: one that began this long before the rotation is long committed. */
const LATE_FORGET_MARGIN_MS = 60_000;

function sealedText(counts: SealedCounts): string {
  const parts = [
    counts.entries > 0 ? `${n(counts.entries)} vault ${counts.entries === 1 ? 'entry' : 'entries'}` : '',
    counts.bodies > 0 ? `${n(counts.bodies)} quarantined ${counts.bodies === 1 ? 'body' : 'bodies'}` : '',
    counts.tombstones > 0 ? `${n(counts.tombstones)} erased users' sealed ${counts.tombstones === 1 ? 'id' : 'ids'}` : '',
  ].filter((part) => part !== '');
  return parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)!}` : (parts[0] ?? 'nothing');
}

const numberFormat = new Intl.NumberFormat('en-US');
/** Counts as the rest of the CLI prints them: 54,000, not 54000. */
function n(value: number): string {
  return numberFormat.format(value);
}
