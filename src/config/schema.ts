// The one configuration schema: every setting's flag, environment variable, type, default, unit
// and documentation. The CLI's --help and docs/configuration.md are generated from it.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envelopeModes } from '../transform/envelope.js';
import { rejectReasons } from '../model/message.js';
import { decodeKey, decodeVaultPublicKey } from './key.js';

export type CommandName = 'run' | 'demo' | 'local' | 'migrate' | 'check' | 'reveal' | 'forget' | 'rotate' | 'grants' | 'keygen' | 'quarantine' | 'replay' | 'pipelines';

/** Headings of `--help-all` and docs/configuration.md, in this order. */
export const settingGroups = ['Pipelines', 'SQS', 'PostgreSQL', 'Masking', 'Vault', 'Throughput and limits', 'Logs, output and HTTP', 'Local servers', 'Command'] as const;
export type SettingGroup = (typeof settingGroups)[number];

export interface SettingSpec<S extends z.ZodType = z.ZodType> {
  /** kebab-case flag, without the leading dashes */
  flag: string;
  /**
   * the environment variable; absent for a one-off argument (a user id, a reason, a message id),
   * which is a flag only: an environment variable would outlive the one command it was meant for
   */
  env?: string;
  /** its heading in --help-all and docs/configuration.md (a test holds every setting to one) */
  group?: SettingGroup;
  /** shown by `<command> --help` (true: for every command that reads it); the rest by --help-all */
  essential?: true | readonly CommandName[];
  /** parses the raw text (flags and environment are both text; a bare boolean flag is "true") */
  schema: S;
  /** raw default, parsed like any other input; absent means "not set" */
  default?: string;
  /** a command's own default, where it differs */
  defaultFor?: Partial<Record<CommandName, string>>;
  /** the default as documentation shows it, when it is not a literal value */
  defaultDoc?: string;
  unit?: string;
  /** what the setting does, for docs/configuration.md (every command) */
  doc: string;
  /** what it does for one command, where that differs: that command's --help shows this instead */
  docFor?: Partial<Record<CommandName, string>>;
  /** never echo the value back (errors, help) */
  secret?: boolean;
  /** a flag that takes no value */
  boolean?: boolean;
  /** a flag that may be given more than once: its schema parses the list of values, in order */
  repeatable?: true;
  commands: readonly CommandName[];
  requiredFor?: readonly CommandName[];
}

const setting = <S extends z.ZodType, const C extends readonly CommandName[]>(
  spec: SettingSpec<S> & { commands: C },
): SettingSpec<S> & { commands: C } => spec;

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\s*-?\d+\s*$/, `expected a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `expected at least ${min}`).max(max, `expected at most ${max}`));

const keyWith = (decode: (text: string) => Buffer | string) =>
  z.string().transform((text, ctx) => {
    const decoded = decode(text);
    if (typeof decoded === 'string') {
      ctx.addIssue({ code: 'custom', message: `the key ${decoded}` });
      return z.NEVER;
    }
    return decoded;
  });

// A key in a file (a mounted secret): read at start, so a missing or bad file stops the command at once.
const keyFileWith = (decode: (text: string) => Buffer | string) =>
  z.string().transform((path, ctx) => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})` });
      return z.NEVER;
    }
    const decoded = decode(text);
    if (typeof decoded === 'string') {
      // The reason only: what the file holds may be a key, and the path may be one put there by mistake.
      ctx.addIssue({ code: 'custom', message: `the key in the file ${decoded}` });
      return z.NEVER;
    }
    return decoded;
  });

const key = keyWith(decodeKey);
const keyFile = keyFileWith(decodeKey);
// The vault public key is also a point the vault can seal to: a low-order point is refused here,
// before any command starts (issue 22).
const vaultPublicKey = keyWith(decodeVaultPublicKey);
const vaultPublicKeyFile = keyFileWith(decodeVaultPublicKey);

const keyId = z.string().regex(/^[a-z0-9]{1,16}$/, 'expected 1-16 lower-case letters or digits');

// `check` reads every setting `run` reads, so it validates exactly what the worker will be given.
const pipelineCommands = ['run', 'demo', 'check'] as const;
const runCommands = ['run', 'check'] as const;
// The legacy symmetric vault key opens what it sealed before 0.2: only the officer's commands take it
// (run and check refuse it from the environment, without a setting: vault/key-pair.ts).
const vaultKeyCommands = ['reveal', 'rotate'] as const;
// Commands that open what workers sealed: their private key never goes to a worker.
const officerKeyCommands = ['reveal', 'rotate', 'quarantine', 'replay'] as const;

export const settings = {
  config: setting({
    flag: 'config',
    env: 'SQS2PG_CONFIG',
    group: 'Pipelines',
    essential: true,
    schema: z.string().min(1),
    defaultDoc: 'none: one pipeline, the builtin logins, on --queue-url',
    doc: 'A pipeline file (YAML): any number of pipelines, each a queue into a table (docs/pipelines.md). Without one, the login pipeline reads --queue-url.',
    docFor: {
      check: 'A pipeline file (YAML; docs/pipelines.md): check validates it, lists its pipelines and reads each one\'s queue instead of --queue-url.',
      pipelines: 'The pipeline file to show, or to validate when no <file> argument is given.',
      migrate: 'A pipeline file (YAML; docs/pipelines.md): after sqs2pg\'s own migrations, migrate creates each declared table that does not exist and adds the columns declared since.',
      run: 'A pipeline file (YAML; docs/pipelines.md): run loads every pipeline of it in one process, each from its own queue (--queue-url is then not read).',
      rotate: 'The pipeline file the workers run: a mask-key rotation re-keys the quarantine records of its declared pipelines by their declarations (without it, those records keep the old key and are counted).',
      demo: 'A pipeline file (YAML; docs/pipelines.md): the demo makes one embedded queue a pipeline (page_views: page-views) in place of the file\'s, sends each generated events (or --input), drains them all and reports each.',
      local: 'A pipeline file (YAML; docs/pipelines.md): local makes one queue a pipeline (page_views: page-views) and prints each queue\'s ${VAR} to export, and the run --drain --config line.',
      replay: "The pipeline file the workers run: replay reads each pipeline's quarantine records by its declaration, into its table (without it, the logins records alone; records of pipelines not in the file are left and counted).",
    },
    commands: ['run', 'check', 'pipelines', 'migrate', 'rotate', 'demo', 'local', 'replay'],
  }),
  pipeline: setting({
    flag: 'pipeline',
    env: 'SQS2PG_PIPELINE',
    group: 'Pipelines',
    essential: true,
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a pipeline name: lower-case letters, digits and _'),
    defaultDoc: 'none: every pipeline of the file',
    doc: 'One pipeline of the file, by name; the others are left alone.',
    docFor: {
      pipelines: 'The pipeline to show (usually given as the argument: sqs2pg pipelines show <name>).',
      migrate: 'The one pipeline of the file whose table migrate brings up to date.',
      quarantine: 'Only the records of this pipeline (quarantine list), or its record of the message (quarantine show: needed when two pipelines quarantined one message id); without it, every pipeline\'s.',
      replay: 'Replay only the records of this pipeline of the file; the others are left alone.',
      forget: 'The pipeline to erase --subject from, by the name it is registered under (migrate registers every pipeline of the file, and logins without one).',
    },
    commands: ['run', 'check', 'pipelines', 'migrate', 'quarantine', 'forget', 'replay'],
  }),
  queueUrl: setting({
    flag: 'queue-url',
    env: 'SQS_QUEUE_URL',
    group: 'SQS',
    essential: true,
    schema: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
    default: 'http://localhost:4566/000000000000/login-queue',
    doc: 'URL of the SQS queue to read.',
    commands: runCommands,
  }),
  sqsEndpoint: setting({
    flag: 'sqs-endpoint',
    env: 'AWS_ENDPOINT_URL_SQS',
    group: 'SQS',
    schema: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    defaultDoc: "AWS's own (or the queue URL's host)",
    doc: 'SQS endpoint used for every call, even when the queue URL names another host.',
    commands: runCommands,
  }),
  sqsProtocol: setting({
    flag: 'sqs-protocol',
    env: 'SQS2PG_SQS_PROTOCOL',
    group: 'SQS',
    schema: z.enum(['auto', 'json', 'query'], { error: 'expected auto, json or query' }),
    default: 'auto',
    doc: 'SQS wire protocol. auto: JSON, switching to the older query (XML) protocol for the run if the endpoint answers JSON with XML, as LocalStack before 3.0 does; json or query: that one only.',
    commands: runCommands,
  }),
  sqsClient: setting({
    flag: 'sqs-client',
    env: 'SQS2PG_SQS_CLIENT',
    group: 'SQS',
    schema: z.enum(['lean', 'sdk'], { error: 'expected lean or sdk' }),
    default: 'lean',
    doc: "Client for the hot SQS calls (receive, delete, visibility) over the JSON protocol. lean: sqs2pg's own requests, signed with the AWS SDK's signer and credentials, on undici (about half the CPU); sdk: the AWS SDK's client. Other calls and the query protocol always use the SDK.",
    commands: runCommands,
  }),
  envelope: setting({
    flag: 'envelope',
    env: 'SQS2PG_ENVELOPE',
    group: 'SQS',
    schema: z.enum(envelopeModes, { error: `expected ${envelopeModes.slice(0, -1).join(', ')} or ${envelopeModes.at(-1)}` }),
    default: 'auto',
    doc: "Envelopes around the events: auto unwraps a well-formed SNS Notification (raw delivery off) or EventBridge event, and takes every other body as it is; none takes every body as it is; sns or eventbridge require that envelope (quarantining any other body as bad_envelope). An unwrapped event is keyed by the envelope's id (SNS's redelivery makes no second row) and dated by its time. A pipeline file's envelope sets it per pipeline.",
    commands: [...pipelineCommands, 'replay'],
  }),
  s3Payloads: setting({
    flag: 's3-payloads',
    env: 'SQS2PG_S3_PAYLOADS',
    group: 'SQS',
    schema: z.enum(['resolve', 'off'], { error: 'expected resolve or off' }),
    default: 'resolve',
    doc: "Bodies the SQS extended client offloaded to S3 (a PayloadS3Pointer): resolve fetches the object (the AWS SDK's credentials; needs s3:GetObject) and reads it as the body, under the same --max-body-bytes limit and --max-in-flight-bytes budget as a body; an object missing or unreadable for good (404, 403 AccessDenied, any other 4xx) is quarantined as payload_unavailable, a transient S3 failure (no answer, a throttle, a 5xx) sends the message back to the queue, and credentials S3 refuses stop the worker (exit 3) with the messages left in the queue. off: a pointer is taken as the body (and quarantined). A pipeline file's s3_payloads sets it per pipeline. replay fetches a payload_unavailable record's object again with it.",
    commands: [...runCommands, 'replay'],
  }),
  s3Endpoint: setting({
    flag: 's3-endpoint',
    env: 'AWS_ENDPOINT_URL_S3',
    group: 'SQS',
    schema: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    defaultDoc: "AWS's own",
    doc: 'S3 endpoint for offloaded payloads (an emulator such as LocalStack or fauxqs, or a VPC endpoint); given one, buckets are addressed path-style.',
    commands: [...runCommands, 'replay'],
  }),
  s3DeleteAfterCommit: setting({
    flag: 's3-delete-after-commit',
    env: 'SQS2PG_S3_DELETE_AFTER_COMMIT',
    group: 'SQS',
    schema: z.stringbool(),
    default: 'false',
    boolean: true,
    doc: "Delete each offloaded payload's S3 object once its message is committed and deleted, as the extended client's receiver can (needs s3:DeleteObject). Best effort: an object left behind is reported and costs only storage.",
    commands: runCommands,
  }),
  region: setting({
    flag: 'region',
    env: 'AWS_REGION',
    group: 'SQS',
    essential: true,
    schema: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'expected an AWS region such as us-east-1'),
    default: 'us-east-1',
    doc: 'AWS region. Credentials come from the AWS SDK credential chain.',
    commands: [...runCommands, 'replay'],
  }),
  databaseUrl: setting({
    flag: 'database-url',
    env: 'DATABASE_URL',
    group: 'PostgreSQL',
    essential: true,
    schema: z.string().regex(/^postgres(ql)?:\/\//, 'expected a libpq URL such as postgres://user:pass@host:5432/db'),
    default: 'postgres://postgres:postgres@localhost:5432/postgres',
    doc: 'PostgreSQL connection URL (libpq form; sslmode is honoured).',
    secret: true,
    commands: ['run', 'migrate', 'check', 'reveal', 'forget', 'rotate', 'grants', 'quarantine', 'replay'],
  }),
  maskKey: setting({
    flag: 'mask-key',
    env: 'SQS2PG_MASK_KEY',
    group: 'Masking',
    essential: ['run', 'demo', 'check', 'rotate', 'forget', 'replay'],
    schema: key.optional(),
    defaultDoc: 'none (the demo uses a fixed development key)',
    doc: 'Secret key for the HMAC masks of ip and device_id and the keyed hashes of erased user ids: exactly 32 random bytes as 64 hex digits or base64 (sqs2pg keygen makes one). Prefer the environment or the file to the flag. Required by run and forget --user-id; replay masks with it. For rotate: the new key, whose originals come from the vault.',
    docFor: {
      run: 'Secret key for the HMAC masks of ip and device_id: exactly 32 random bytes as 64 hex digits or base64 (sqs2pg keygen makes one). Prefer the environment to the flag.',
      check: 'The mask key run would be given: checked to be set, 32 random bytes, and the key its key id was first used with here.',
      demo: "Secret key for the HMAC masks of ip and device_id: exactly 32 random bytes as 64 hex digits or base64 (sqs2pg keygen makes one). Without it the demo masks with its fixed, public development key (key id dev).",
      rotate: 'The new mask key: rows are re-masked under it from the originals in the vault. Exactly 32 random bytes as 64 hex digits or base64 (sqs2pg keygen makes one).',
      forget: "The workers' mask key: forget --user-id (--subject) finds the user's (subject's) quarantine records, and keeps their later messages out, by a keyed hash under it. Required by --user-id and --subject.",
      replay: 'The mask key the replayed rows are masked with: the workers\' own.',
    },
    secret: true,
    commands: [...pipelineCommands, 'rotate', 'forget', 'replay'],
    requiredFor: ['run'],
  }),
  maskKeyFile: setting({
    flag: 'mask-key-file',
    env: 'SQS2PG_MASK_KEY_FILE',
    group: 'Masking',
    essential: ['run', 'check', 'rotate', 'forget', 'replay'],
    schema: keyFile.optional(),
    defaultDoc: 'none',
    doc: 'A file holding the mask key (a mounted secret), instead of --mask-key.',
    secret: true,
    commands: [...pipelineCommands, 'rotate', 'forget', 'replay'],
  }),
  maskPreviousKey: setting({
    flag: 'mask-previous-key',
    env: 'SQS2PG_MASK_PREVIOUS_KEY',
    group: 'Masking',
    schema: key.optional(),
    defaultDoc: 'none',
    doc: 'forget --user-id during a mask-key rotation: the mask key being rotated away from, so the erasure also covers quarantine records and workers still under it (its key id is found from the key).',
    secret: true,
    commands: ['forget'],
  }),
  maskPreviousKeyFile: setting({
    flag: 'mask-previous-key-file',
    env: 'SQS2PG_MASK_PREVIOUS_KEY_FILE',
    group: 'Masking',
    schema: keyFile.optional(),
    defaultDoc: 'none',
    doc: 'A file holding the previous mask key, instead of --mask-previous-key.',
    secret: true,
    commands: ['forget'],
  }),
  maskKeyId: setting({
    flag: 'mask-key-id',
    env: 'SQS2PG_MASK_KEY_ID',
    group: 'Masking',
    essential: ['rotate'],
    schema: keyId,
    default: 'k1',
    doc: 'Short id written in front of every mask (k1:...), so the key can be rotated. For rotate: the id rows are re-masked to.',
    docFor: {
      run: 'Short id written in front of every mask (k1:...), so the key can be rotated.',
      check: 'Short id written in front of every mask (k1:...), so the key can be rotated.',
      demo: 'Short id written in front of every mask made with --mask-key (k1:...); without a mask key the demo uses its development key, whose id is dev.',
      rotate: 'The id rows are re-masked to (written in front of every new mask).',
    },
    commands: [...pipelineCommands, 'rotate', 'forget', 'replay'],
  }),
  vaultKey: setting({
    flag: 'vault-key',
    env: 'SQS2PG_VAULT_KEY',
    group: 'Vault',
    schema: key.optional(),
    defaultDoc: 'none',
    doc: 'The legacy symmetric vault key of sqs2pg before 0.2: reveal and rotate open the entries written under it (rotate moves them to the public-key vault). Workers refuse it: give them SQS2PG_VAULT_PUBLIC_KEY.',
    secret: true,
    commands: vaultKeyCommands,
  }),
  vaultKeyFile: setting({
    flag: 'vault-key-file',
    env: 'SQS2PG_VAULT_KEY_FILE',
    group: 'Vault',
    schema: keyFile.optional(),
    defaultDoc: 'none',
    doc: 'A file holding the legacy vault key (a mounted secret), instead of --vault-key.',
    secret: true,
    commands: vaultKeyCommands,
  }),
  vaultPublicKey: setting({
    flag: 'vault-public-key',
    env: 'SQS2PG_VAULT_PUBLIC_KEY',
    group: 'Vault',
    schema: vaultPublicKey.optional(),
    defaultDoc: 'none: no vault',
    doc: 'Public key of the vault (X25519, 32 bytes, hex or base64; sqs2pg keygen --vault makes a pair). Workers seal the value behind every mask, and every quarantined body, to it; they can never open what they sealed. Set it (or --vault-public-key-file) to turn the vault on. For forget --user-id: seals the erased id in its tombstone, so rotate can re-key it under a new mask key.',
    // Not a secret, but never echoed either: a private key pasted here by mistake would be.
    secret: true,
    commands: [...runCommands, 'forget'],
  }),
  vaultPublicKeyFile: setting({
    flag: 'vault-public-key-file',
    env: 'SQS2PG_VAULT_PUBLIC_KEY_FILE',
    group: 'Vault',
    schema: vaultPublicKeyFile.optional(),
    defaultDoc: 'none',
    doc: 'A file holding the vault public key (a mounted secret), instead of --vault-public-key.',
    secret: true,
    commands: [...runCommands, 'forget'],
  }),
  vaultPrivateKey: setting({
    flag: 'vault-private-key',
    env: 'SQS2PG_VAULT_PRIVATE_KEY',
    group: 'Vault',
    essential: ['reveal', 'rotate', 'quarantine', 'replay'],
    schema: key.optional(),
    defaultDoc: 'none',
    doc: 'Private key of the vault (X25519, 32 bytes, hex or base64), for the PII officer only: it opens what workers sealed. Never give it to a worker. For rotate: the key entries are re-sealed to (its public key).',
    secret: true,
    commands: officerKeyCommands,
  }),
  vaultPrivateKeyFile: setting({
    flag: 'vault-private-key-file',
    env: 'SQS2PG_VAULT_PRIVATE_KEY_FILE',
    group: 'Vault',
    essential: ['reveal', 'rotate', 'quarantine', 'replay'],
    schema: keyFile.optional(),
    defaultDoc: 'none',
    doc: 'A file holding the vault private key (a mounted secret), instead of --vault-private-key.',
    secret: true,
    commands: officerKeyCommands,
  }),
  vaultPreviousPrivateKey: setting({
    flag: 'vault-previous-private-key',
    env: 'SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY',
    group: 'Vault',
    schema: key.optional(),
    defaultDoc: 'none',
    doc: 'The vault private key being rotated away from: rotate re-seals to the vault private key\'s public key everything sealed under it (vault entries, quarantined bodies, the user ids of tombstones), then retires its key id; meanwhile reveal, quarantine show --reveal and replay open what is sealed under either key.',
    secret: true,
    commands: officerKeyCommands,
  }),
  vaultPreviousPrivateKeyFile: setting({
    flag: 'vault-previous-private-key-file',
    env: 'SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY_FILE',
    group: 'Vault',
    schema: keyFile.optional(),
    defaultDoc: 'none',
    doc: 'A file holding the previous vault private key, instead of --vault-previous-private-key.',
    secret: true,
    commands: officerKeyCommands,
  }),
  vaultKeyId: setting({
    flag: 'vault-key-id',
    env: 'SQS2PG_VAULT_KEY_ID',
    group: 'Vault',
    essential: ['rotate'],
    schema: keyId,
    default: 'v1',
    doc: 'Id stored with every vault entry, so the vault key can be rotated; one id names one key pair. For rotate: the id entries are re-sealed to. (reveal finds it from the key.)',
    docFor: {
      run: 'Id stored with every vault entry, so the vault key can be rotated.',
      check: 'Id stored with every vault entry, so the vault key can be rotated.',
      rotate: 'The id vault entries are re-sealed to.',
    },
    commands: [...runCommands, 'rotate', 'forget'],
  }),
  vaultPreviousKey: setting({
    flag: 'vault-previous-key',
    env: 'SQS2PG_VAULT_PREVIOUS_KEY',
    group: 'Vault',
    schema: key.optional(),
    defaultDoc: 'none',
    doc: 'A second legacy symmetric vault key (from a rotation before 0.2 that did not finish): reveal and rotate open its entries too.',
    secret: true,
    commands: ['reveal', 'rotate'],
  }),
  vaultPreviousKeyFile: setting({
    flag: 'vault-previous-key-file',
    env: 'SQS2PG_VAULT_PREVIOUS_KEY_FILE',
    group: 'Vault',
    schema: keyFile.optional(),
    defaultDoc: 'none',
    doc: 'A file holding the previous legacy vault key, instead of --vault-previous-key.',
    secret: true,
    commands: ['reveal', 'rotate'],
  }),
  masked: setting({
    flag: 'masked',
    group: 'Command',
    essential: true,
    // Never echoed: a value typed here by mistake could be the raw ip or device id itself.
    schema: z
      .string()
      .regex(/^[a-z0-9]{1,16}:[0-9a-f]{64}$|^sealed:[0-9a-f]{32}$/, 'expected a masked value such as k1:3f2a… (key id, colon, 64 hex digits) or a sealed column\'s sealed:… (32 hex digits)')
      .optional(),
    defaultDoc: 'none',
    doc: "A masked value as a table holds it (k1:3f2a…), or a sealed column's reference (sealed:…). reveal takes it as its argument.",
    docFor: {
      reveal: "The masked value to reveal, as a table holds it (k1:3f2a…, or a sealed column's sealed:…); usually given as the argument instead.",
      forget: "A masked value as a table holds it (k1:3f2a…, or a sealed column's sealed:…), to erase.",
    },
    secret: true,
    commands: ['reveal', 'forget'],
    requiredFor: ['reveal'],
  }),
  reason: setting({
    flag: 'reason',
    group: 'Command',
    essential: true,
    schema: z.string().trim().min(3, 'expected a few words: why, or a ticket reference').max(500, 'expected at most 500 characters').optional(),
    defaultDoc: 'none',
    doc: 'Why, written to the audit table (a ticket reference, not the person\'s details). Required by reveal, quarantine show --reveal and replay.',
    docFor: {
      reveal: 'Why, written to the audit table (a ticket reference, not the person\'s details). Required.',
      forget: 'Why, written to the audit table (a ticket reference, not the person\'s details).',
      rotate: 'Why, written to the audit table (a ticket reference).',
      quarantine: 'Why, written to the audit table (a ticket reference). Required by show --reveal.',
      replay: 'Why, written to the audit table (a ticket reference). Required.',
    },
    commands: ['reveal', 'forget', 'rotate', 'quarantine', 'replay'],
    requiredFor: ['reveal', 'replay'],
  }),
  userId: setting({
    flag: 'user-id',
    group: 'Command',
    essential: true,
    schema: z.string().max(128, 'expected at most 128 characters').optional(),
    defaultDoc: 'none',
    doc: "Erase this user: their rows, quarantine records naming them and the vault entries no other row uses, and record a tombstone (a keyed hash of the id) so workers load none of their later messages. Needs the mask key.",
    commands: ['forget'],
  }),
  subject: setting({
    flag: 'subject',
    group: 'Command',
    essential: true,
    // Never echoed: it is the person's identifier.
    schema: z.string().min(1, 'expected the subject as the events carry it').max(1024, 'expected at most 1024 characters').optional(),
    defaultDoc: 'none',
    doc: "Erase this subject of --pipeline (the value at the pipeline's subject path, as the events carry it): its rows, the pipeline's quarantine records naming it and the vault entries no other row uses, and record a tombstone so workers load none of its later messages. Needs the mask key. --pipeline logins --subject <id> is --user-id <id>.",
    secret: true,
    commands: ['forget'],
  }),
  messageId: setting({
    flag: 'message-id',
    group: 'Command',
    essential: true,
    schema: z.string().min(1).max(128, 'expected an SQS message id (at most 128 characters)').optional(),
    defaultDoc: 'none',
    doc: "The id of a quarantine record: the SQS message id, or an envelope's key (sns:… or eventbridge:…). quarantine show takes it as its argument.",
    commands: ['quarantine'],
  }),
  reveal: setting({
    flag: 'reveal',
    group: 'Command',
    essential: true,
    schema: z.stringbool(),
    default: 'false',
    boolean: true,
    doc: 'quarantine show: also open the sealed body and print it, audited (needs --reason, the vault private key and a PII officer role).',
    commands: ['quarantine'],
  }),
  whereReason: setting({
    flag: 'where-reason',
    group: 'Command',
    essential: true,
    schema: z.enum(rejectReasons, { error: `expected a reason code: ${rejectReasons.join(', ')}` }).optional(),
    defaultDoc: 'none: every reason',
    doc: 'replay: only the quarantine records of this reason code.',
    commands: ['replay'],
  }),
  limit: setting({
    flag: 'limit',
    group: 'Command',
    essential: true,
    schema: int(1, 100_000_000).optional(),
    defaultDoc: 'none: all',
    unit: 'records',
    doc: 'replay: at most this many records (oldest first); quarantine list: at most this many lines.',
    commands: ['quarantine', 'replay'],
  }),
  rotatePauseMs: setting({
    flag: 'rotate-pause-ms',
    env: 'SQS2PG_ROTATE_PAUSE_MS',
    group: 'Throughput and limits',
    schema: int(0, 60000),
    default: '0',
    unit: 'ms',
    doc: 'Pause between two rotation batches, to leave the database to the workers.',
    commands: ['rotate'],
  }),
  keygenVault: setting({
    flag: 'vault',
    group: 'Command',
    essential: true,
    schema: z.stringbool(),
    default: 'false',
    boolean: true,
    doc: 'keygen: print a fresh vault key pair (public key for workers, private key for the PII officer) instead of a mask key.',
    commands: ['keygen'],
  }),
  rolePrefix: setting({
    flag: 'role-prefix',
    env: 'SQS2PG_ROLE_PREFIX',
    group: 'PostgreSQL',
    essential: true,
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,40}$/, 'expected lower-case letters, digits and underscores'),
    default: 'sqs2pg_',
    doc: 'Prefix of the three roles grants creates: the prefix followed by worker, analyst and pii_officer.',
    commands: ['grants'],
  }),
  visibilityTimeoutSec: setting({
    flag: 'visibility-timeout-sec',
    env: 'SQS2PG_VISIBILITY_TIMEOUT_SEC',
    group: 'SQS',
    schema: int(1, 43200),
    default: '30',
    unit: 's',
    doc: 'How long a received message stays hidden; extended every half of it while the message is in hand.',
    commands: pipelineCommands,
  }),
  receiveWaitSec: setting({
    flag: 'receive-wait-sec',
    env: 'SQS2PG_RECEIVE_WAIT_SEC',
    group: 'SQS',
    schema: int(0, 20),
    default: '20',
    unit: 's',
    doc: 'Long-poll wait of each ReceiveMessage call (--drain uses at most 1 s to notice an empty queue).',
    commands: pipelineCommands,
  }),
  pollers: setting({
    flag: 'pollers',
    env: 'SQS2PG_POLLERS',
    group: 'Throughput and limits',
    schema: int(1, 64),
    default: '16',
    doc: 'Most concurrent ReceiveMessage loops. A run starts with one and adds one whenever a receive comes back full; one whose receive is less than half full ends (never the last). 16 keep a worker busy at the 10-20 ms of a call to AWS.',
    commands: pipelineCommands,
  }),
  batchMaxRows: setting({
    flag: 'batch-max-rows',
    env: 'SQS2PG_BATCH_MAX_ROWS',
    group: 'Throughput and limits',
    schema: int(1, 10000),
    default: '500',
    unit: 'rows',
    doc: 'Largest batch written to PostgreSQL in one statement and one transaction.',
    commands: [...pipelineCommands, 'rotate'],
  }),
  batchMaxWaitMs: setting({
    flag: 'batch-max-wait-ms',
    env: 'SQS2PG_BATCH_MAX_WAIT_MS',
    group: 'Throughput and limits',
    schema: int(0, 60000),
    default: '200',
    unit: 'ms',
    doc: 'Longest a received message waits for its batch to fill before the batch is written. Not on a FIFO queue, where every message in hand holds its group back: a receive is written at once, or with the next commit while every connection is busy.',
    commands: pipelineCommands,
  }),
  maxInFlightMessages: setting({
    flag: 'max-in-flight-messages',
    env: 'SQS2PG_MAX_IN_FLIGHT_MESSAGES',
    group: 'Throughput and limits',
    schema: int(10, 100000),
    default: '2000',
    unit: 'messages',
    doc: 'Received but not yet deleted messages; polling pauses at this limit (backpressure).',
    commands: pipelineCommands,
  }),
  maxInFlightBytes: setting({
    flag: 'max-in-flight-bytes',
    env: 'SQS2PG_MAX_IN_FLIGHT_BYTES',
    group: 'Throughput and limits',
    schema: int(1_048_576, 4_294_967_296).optional(),
    defaultDoc: '`16777216` (16 MiB) where answers are counted as they arrive (`--answer-bytes count` with the lean client); `50331648` (48 MiB) where each receive reserves its worst case (`--answer-bytes reserve`, `--sqs-client sdk`, the query protocol, said or found by `auto`)',
    unit: 'bytes',
    doc: "What the messages in hand and the SQS answers being read may hold in memory; at this limit polling pauses. With --answer-bytes count (the default, lean client) answers are counted as they arrive, and a burst of ~1 MiB hostile bodies peaks lower the smaller this is; with reserve (and always with `--sqs-client sdk`) each receive in flight first reserves a full answer (ten bodies of the queue's maximum, twice).",
    commands: pipelineCommands,
  }),
  answerBytes: setting({
    flag: 'answer-bytes',
    env: 'SQS2PG_ANSWER_BYTES',
    group: 'Throughput and limits',
    schema: z.enum(['reserve', 'count'], { error: 'expected reserve or count' }),
    default: 'count',
    doc: "How SQS answers are held to --max-in-flight-bytes. count (lean client): answers are counted as they arrive, under a 16 MiB budget unless --max-in-flight-bytes says otherwise, so every poller receives on any queue, and a burst of ~1 MiB hostile bodies peaks at ~160-180 MB, within 1.5 x a clean run (docs/performance.md). reserve: each receive in flight first reserves the worst case (ten bodies of the queue's maximum, twice): on a queue created without attributes (1 MiB bodies) that leaves two receives in flight, about 3 x slower behind a real region's round trip. `--sqs-client sdk` (and the query protocol) always reserves: the SDK decodes an answer whole.",
    commands: pipelineCommands,
  }),
  maxBodyBytes: setting({
    flag: 'max-body-bytes',
    env: 'SQS2PG_MAX_BODY_BYTES',
    group: 'Throughput and limits',
    schema: int(1024, 1_048_576).optional(),
    defaultDoc: "the queue's `MaximumMessageSize` (1 MiB on a queue created without attributes)",
    unit: 'bytes',
    doc: 'Largest body (UTF-8 bytes) read as an event; a larger one is quarantined as `too_large`, only hashed and scanned.',
    commands: pipelineCommands,
  }),
  dbPoolSize: setting({
    flag: 'db-pool-size',
    env: 'SQS2PG_DB_POOL_SIZE',
    group: 'Throughput and limits',
    schema: int(1, 100),
    default: '4',
    unit: 'connections',
    doc: 'PostgreSQL connections, and so batches written at once.',
    commands: pipelineCommands,
  }),
  workers: setting({
    flag: 'workers',
    env: 'SQS2PG_WORKERS',
    group: 'Throughput and limits',
    schema: z.union([z.literal('auto'), int(1, 256)], { error: 'expected auto or a whole number from 1 to 256' }),
    default: '1',
    unit: 'processes',
    doc: 'Worker processes on this host under one supervisor, which restarts one that dies, serves one /metrics, /healthz and /readyz for all and splits --db-pool-size among them (so the host opens no more connections than that); auto: one per core this process may use. 1: no supervisor.',
    commands: runCommands,
  }),
  maxOutageSec: setting({
    flag: 'max-outage-sec',
    env: 'SQS2PG_MAX_OUTAGE_SEC',
    group: 'Throughput and limits',
    schema: int(1, 86400),
    default: '300',
    unit: 's',
    doc: 'With --drain: give up (exit 3) once PostgreSQL or SQS has failed for this long; nothing uncommitted is deleted. A service retries for ever.',
    commands: pipelineCommands,
  }),
  drain: setting({
    flag: 'drain',
    env: 'SQS2PG_DRAIN',
    group: 'Command',
    essential: true,
    schema: z.stringbool(),
    default: 'false',
    boolean: true,
    doc: 'Exit 0 once the queue is empty and everything is committed, instead of running as a service.',
    commands: runCommands,
  }),
  logLevel: setting({
    flag: 'log-level',
    env: 'SQS2PG_LOG_LEVEL',
    group: 'Logs, output and HTTP',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    defaultFor: { demo: 'warn' },
    defaultDoc: 'info (demo: warn)',
    doc: 'Least severe log level written to stderr.',
    commands: ['run', 'demo', 'migrate', 'check', 'rotate', 'replay'],
  }),
  logFormat: setting({
    flag: 'log-format',
    env: 'SQS2PG_LOG_FORMAT',
    group: 'Logs, output and HTTP',
    schema: z.enum(['auto', 'json', 'pretty'], { error: 'expected auto, json or pretty' }),
    default: 'auto',
    doc: 'Log lines on stderr: json (pino JSON lines), pretty (short lines for a person: time, level, message) or auto: pretty when stderr is a terminal, json otherwise.',
    commands: ['run', 'demo', 'migrate', 'check', 'rotate', 'replay'],
  }),
  queueDepthIntervalSec: setting({
    flag: 'queue-depth-interval-sec',
    env: 'SQS2PG_QUEUE_DEPTH_INTERVAL_SEC',
    group: 'SQS',
    schema: int(1, 3600),
    default: '5',
    unit: 's',
    doc: "How often the queue's depth is read (GetQueueAttributes) for the metrics, readiness and the progress line.",
    commands: pipelineCommands,
  }),
  httpPort: setting({
    flag: 'http-port',
    env: 'SQS2PG_HTTP_PORT',
    group: 'Logs, output and HTTP',
    essential: ['run'],
    schema: int(0, 65535),
    default: '9464',
    defaultFor: { demo: '0' },
    defaultDoc: '9464 (demo: 0, off)',
    doc: 'Port of the HTTP server for /metrics (Prometheus), /healthz and /readyz; 0 turns it off.',
    commands: pipelineCommands,
  }),
  httpHost: setting({
    flag: 'http-host',
    env: 'SQS2PG_HTTP_HOST',
    group: 'Logs, output and HTTP',
    schema: z.union([z.ipv4(), z.ipv6(), z.literal('localhost')], { error: 'expected an IP address to bind, such as 127.0.0.1 or 0.0.0.0' }),
    default: '127.0.0.1',
    doc: 'Address the HTTP server binds; the container image sets 0.0.0.0 so probes and Prometheus can reach it.',
    commands: pipelineCommands,
  }),
  quiet: setting({
    flag: 'quiet',
    env: 'SQS2PG_QUIET',
    group: 'Logs, output and HTTP',
    essential: true,
    schema: z.stringbool(),
    default: 'false',
    boolean: true,
    doc: 'No progress line and no summary on stdout (errors and logs still go to stderr); check prints only its problems.',
    docFor: {
      run: 'No progress line and no summary on stdout (errors and logs still go to stderr).',
      demo: 'No progress line and no report on stdout (errors and logs still go to stderr).',
      check: 'Print only the checks that found a problem.',
    },
    commands: pipelineCommands,
  }),
  json: setting({
    flag: 'json',
    env: 'SQS2PG_JSON',
    group: 'Logs, output and HTTP',
    essential: true,
    schema: z.stringbool(),
    default: 'false',
    boolean: true,
    doc: 'Print the end-of-run summary (run --drain) or the check results as one JSON object on stdout instead of text.',
    docFor: {
      run: 'Print the end-of-run summary of --drain as one JSON object on stdout instead of text.',
      check: 'Print the check results as one JSON object on stdout instead of text.',
      replay: 'Print what replay did as one JSON object on stdout instead of text: per pipeline replayed, and the records of pipelines it was not given.',
    },
    commands: [...runCommands, 'replay'],
  }),
  demoMessages: setting({
    flag: 'messages',
    group: 'Command',
    essential: true,
    schema: int(0, 1000000),
    default: '1000',
    unit: 'messages',
    doc: 'Well-formed sample events the demo sends (a few malformed ones are added).',
    commands: ['demo'],
  }),
  dataDir: setting({
    flag: 'data-dir',
    env: 'SQS2PG_DATA_DIR',
    group: 'Local servers',
    essential: true,
    schema: z.string().min(1),
    default: '.sqs2pg',
    doc: "Folder for the embedded PostgreSQL's data files (kept between runs; delete it to start afresh).",
    commands: ['demo', 'local'],
  }),
  input: setting({
    flag: 'input',
    group: 'Command',
    essential: true,
    schema: z.array(z.string().min(1)).optional(),
    repeatable: true,
    defaultDoc: 'none',
    doc: 'A file of events to send (demo: instead of the generated sample; local: once the queue is up): a JSON array (each element one message body) or JSON Lines (each line one body, sent as written). With --config, PIPELINE=FILE, once for each pipeline given events.',
    docFor: {
      demo: 'A file of your own events to send instead of the generated sample: a JSON array (each element one message body) or JSON Lines (each line one body, sent as written). With --config, PIPELINE=FILE, once for each pipeline given events.',
      local: 'A file of events to send to the queue once it is up: a JSON array (each element one message body) or JSON Lines (each line one body, sent as written). With --config, PIPELINE=FILE, once for each pipeline given events.',
    },
    commands: ['demo', 'local'],
  }),
} as const;

export type SettingName = keyof typeof settings;
type Settings = typeof settings;

/** The one argument a command takes, as another way to give one of its settings. */
export const positionalFor: Partial<Record<CommandName, { setting: SettingName; name: string }>> = {
  reveal: { setting: 'masked', name: 'masked-value' },
  quarantine: { setting: 'messageId', name: 'message-id' },
  pipelines: { setting: 'pipeline', name: 'name' },
};

/** The parsed settings one command reads. */
export type ConfigFor<C extends CommandName> = {
  [K in SettingName as C extends Settings[K]['commands'][number] ? K : never]: z.output<Settings[K]['schema']>;
};

/** Whether `<command> --help` shows this setting (the rest: --help-all). */
export function isEssential(spec: SettingSpec, command: CommandName): boolean {
  return spec.essential === true || (spec.essential?.includes(command) ?? false);
}

/** The settings one command reads, in schema order. */
export function settingsFor(command: CommandName): [SettingName, SettingSpec][] {
  return (Object.entries(settings) as [SettingName, SettingSpec][]).filter(([, spec]) =>
    spec.commands.includes(command),
  );
}
