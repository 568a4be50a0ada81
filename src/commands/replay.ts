// sqs2pg replay --reason "..." [--config FILE [--pipeline NAME]] [--where-reason R] [--limit N]:
// quarantined messages re-run, each through its own pipeline's validation and masking and into its
// own table, from their sealed bodies. Without a file, the login pipeline's records alone, as
// workers without one load; a record of a pipeline not given is left, and counted. Needs the vault
// private key (to open them; the previous one too while a vault key rotation is under way) and the
// mask key (to mask them as workers do), both checked against the database's fingerprints before
// anything is opened or written; audited per message; safe beside workers. A record whose S3 payload
// could not be had is fetched again, with the pipeline's s3_payloads setting, as its workers would.
import { renderHelp } from '../config/help.js';
import { maskKeyFrom } from '../config/key.js';
import { loadConfig } from '../config/load.js';
import { builtinLogins } from '../config/builtin-pipelines.js';
import { choosePipeline } from '../config/choose-pipeline.js';
import { loadPipelineFile } from '../config/pipeline-file.js';
import { rethrowRefusal } from '../db/denied.js';
import { assertKnownKeys, keyIdInUse } from '../db/key-fingerprints.js';
import { migrate } from '../db/migrate.js';
import { assertReachable, createPool } from '../db/pool.js';
import { ConfigError } from '../errors.js';
import { privateKeysFrom, quarantineKeyring, rethrowSealed } from '../quarantine/openers.js';
import { countsOfOtherPipelines } from '../quarantine/records.js';
import { replayQuarantined, replayTargets, replayTransform, type ReplayResult } from '../pipeline/replay.js';
import { S3PayloadResolver } from '../source/s3/payload-resolver.js';
import { SQS_MAX_BODY_BYTES } from '../model/message.js';
import { PostgresSink } from '../sink/postgres/sink.js';
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
  // A record is read by its own pipeline's declaration, which only the file holds (logins needs none).
  const all = config.config === undefined ? [builtinLogins('')] : loadPipelineFile(config.config, env).pipelines;
  const specs = choosePipeline(all, config.pipeline, config.config);
  const masker = createMasker(maskKey, config.maskKeyId);
  // Made only where a pipeline resolves pointers; the SDK is loaded only when a sealed body is one.
  const resolving = specs.some((spec) => (spec.s3Payloads ?? config.s3Payloads) === 'resolve');
  const resolver = resolving ? new S3PayloadResolver({ region: config.region, endpoint: config.s3Endpoint, maxBytes: SQS_MAX_BODY_BYTES, env }) : undefined;
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    try {
      await migrate(pool);
      // Replayed rows must match what workers make: masks under a key id its key stands for, and
      // vault entries sealed to the officer's key pair under the id the workers registered it with.
      await assertKnownKeys(pool, [{ purpose: 'mask', keyId: config.maskKeyId, key: maskKey }]);
      const vaultKeyId = await keyIdInUse(pool, 'vault', publicKeyOf(keys.privateKey), 'the vault private key (SQS2PG_VAULT_PRIVATE_KEY)');
      const targets = await replayTargets(pool, specs, config.config);
      const opener = await quarantineKeyring(pool, keys);
      const vault = sealerOfPrivateKey(keys.privateKey, vaultKeyId);
      const results = new Map<string, ReplayResult>();
      let left = config.limit;
      for (const spec of specs) {
        if (left === 0) break;
        // The pipeline's own envelope and S3 payloads, where its file sets them, as its workers read them.
        const envelope = spec.envelope ?? config.envelope;
        const result = await replayQuarantined(pool, {
          sink: new PostgresSink(pool, targets.get(spec.name)!),
          transform: replayTransform(spec, masker, envelope),
          payloads: resolver && (spec.s3Payloads ?? config.s3Payloads) === 'resolve' ? { resolver, envelope } : undefined,
          opener,
          vault,
          reason: config.reason,
          whereReason: config.whereReason,
          limit: left,
        });
        results.set(spec.name, result);
        if (left !== undefined) left -= result.loaded + result.withoutBody + Object.values(result.stillRefused).reduce((sum, n) => sum + n, 0);
      }
      const notGiven = await countsOfOtherPipelines(pool, all.map((spec) => spec.name), config.whereReason);
      console.log(config.json ? JSON.stringify({ pipelines: Object.fromEntries(results), notGiven: Object.fromEntries(notGiven) }) : summary(results, notGiven, config.config));
      return 0;
    } catch (error) {
      rethrowSealed(error, 'a quarantined message');
      return rethrowRefusal(error, config.databaseUrl, 'replay the quarantine');
    }
  } finally {
    resolver?.destroy();
    await pool.end();
  }
}

/**
 * A line per pipeline replayed (without a file, today's one line for logins, unnamed), and one for
 * the records of pipelines it was not given, if any.
 */
function summary(results: ReadonlyMap<string, ReplayResult>, notGiven: ReadonlyMap<string, number>, file: string | undefined): string {
  const lines = [...results].map(([pipeline, result]) => {
    const refused = Object.entries(result.stillRefused).map(([reason, count]) => `${reason} ${count}`);
    const stillRefused = Object.values(result.stillRefused).reduce((sum, n) => sum + n, 0);
    return (
      `replayed${file === undefined ? '' : ` ${pipeline}`}: ${result.loaded} loaded and removed from the quarantine; ${stillRefused} still refused${refused.length ? ` (${refused.join(', ')})` : ''}; ` +
      `${result.withoutBody} without a sealed body (quarantined while the vault was off)`
    );
  });
  const others = [...notGiven.values()].reduce((sum, n) => sum + n, 0);
  if (others > 0) {
    const where = file === undefined ? 'give the pipeline file that declares them with --config' : `they are not in ${file}`;
    lines.push(`${others} record${others === 1 ? '' : 's'} of pipelines replay was not given: ${[...notGiven].map(([pipeline, n]) => `${pipeline} ${n}`).join(', ')} (left in the quarantine; ${where})`);
  }
  return lines.join('\n');
}
