// sqs2pg quarantine list [--pipeline NAME] | show <message-id> [--pipeline NAME] [--reveal --reason "..."]: what
// arrives that cannot be loaded, per pipeline. list and show print no personal data; --reveal prints
// the body, once its audit row is committed.
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { rethrowRefusal } from '../db/denied.js';
import { assertReachable, createPool } from '../db/pool.js';
import { ConfigError, Sqs2pgError } from '../errors.js';
import { privateKeysFrom, quarantineKeyring, rethrowSealed } from '../quarantine/openers.js';
import { countsByReasonAndDay, findRecords } from '../quarantine/records.js';
import { openBody, revealSealedBody } from '../quarantine/sealed-body.js';

const LIST_LIMIT = 100;

export async function quarantine(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [action, ...rest] = args;
  const { config, help } = loadConfig('quarantine', action === 'list' || action === 'show' ? rest : args, env);
  if (help) {
    console.log(renderHelp('quarantine', help === 'all'));
    return 0;
  }
  if (action !== 'list' && action !== 'show') throw new ConfigError('quarantine needs "list" or "show <message-id>"; see: sqs2pg quarantine --help');
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    try {
      if (action === 'list') {
        const counts = await countsByReasonAndDay(pool, config.limit ?? LIST_LIMIT, config.pipeline);
        if (counts.length === 0) console.log(config.pipeline === undefined ? 'the quarantine is empty' : `the quarantine holds no record of pipeline ${config.pipeline}`);
        const width = Math.max(0, ...counts.map((row) => row.pipeline.length));
        for (const row of counts) {
          console.log(`${row.day}  ${row.pipeline.padEnd(width)}  ${row.reason.padEnd(16)}${String(row.count).padStart(8)}  ${row.bytes} bytes`);
        }
        return 0;
      }
      const messageId = config.messageId;
      if (messageId === undefined) throw new ConfigError('quarantine show needs <message-id>; see: sqs2pg quarantine --help');
      if (config.reveal && config.reason === undefined) throw new ConfigError('quarantine show --reveal needs --reason (written to the audit); see: sqs2pg quarantine --help');
      const keys = config.reveal ? privateKeysFrom(config, 'quarantine show --reveal', 'it opens the sealed body') : undefined;
      const records = await findRecords(pool, messageId, config.pipeline);
      const record = records[0];
      if (!record) throw new Sqs2pgError('vault_not_found', `the quarantine holds no record of message ${messageId}${config.pipeline === undefined ? '' : ` in pipeline ${config.pipeline}`}`, 4);
      // Two pipelines fed by one SNS topic each quarantine a message under the notification's id.
      if (records.length > 1) {
        throw new ConfigError(`the quarantine holds records of message ${messageId} in pipelines ${records.map((r) => r.pipeline).join(', ')}: name one with --pipeline NAME`);
      }
      if (!keys || config.reason === undefined) {
        console.log(JSON.stringify(record, null, 2));
        return 0;
      }
      const reason = config.reason;
      // Before the audit row: a key this vault was never sealed to is refused without one.
      const keyring = await quarantineKeyring(pool, keys);
      // The audit row commits before the sealed body is handed over; it is opened here, then printed.
      const sealed = await revealSealedBody(pool, record.pipeline, messageId, reason);
      let body: string | undefined;
      if (sealed) {
        try {
          body = openBody(sealed, messageId, keyring);
        } catch (error) {
          rethrowSealed(error, messageId);
          throw error;
        }
      }
      if (body === undefined) {
        throw new Sqs2pgError('vault_not_found', `the record of ${messageId} has no sealed body: it was quarantined while the vault was off (no SQS2PG_VAULT_PUBLIC_KEY)`, 4);
      }
      console.log(JSON.stringify({ ...record, body }, null, 2));
      return 0;
    } catch (error) {
      rethrowRefusal(error, config.databaseUrl, 'read the quarantine (or open a sealed body)');
    }
  } finally {
    await pool.end();
  }
}
