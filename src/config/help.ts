// --help text and the README's configuration table, both generated from the one schema.
import { positionalFor, settings, settingsFor, type CommandName, type SettingSpec } from './schema.js';

export const commandSummaries: Record<CommandName, string> = {
  run: 'Move messages from SQS into PostgreSQL: a service until SIGTERM, or --drain to stop when the queue is empty.',
  demo: 'Zero-setup first run: embedded SQS and PostgreSQL, a generated sample, a drain and a report.',
  migrate: 'Apply the database migrations (run also does this at start).',
  check: 'Check the configuration, SQS, PostgreSQL, the table, the migrations and the privileges; one line each.',
  reveal: 'Print the original value behind a mask, from the vault, and audit it (needs the vault private key and a PII officer role).',
  forget: 'Erase a user (--user-id, with a tombstone that keeps their later messages out) or one masked value (--masked).',
  rotate: 'Bring existing rows and vault entries to the configured keys: re-mask under a new mask key, re-seal under a new vault key pair (and legacy entries to it). Run as the tables\' owner.',
  grants: 'Create the worker, analyst and PII officer roles with least privilege, and grant them.',
  keygen: 'Print a fresh mask key, or with --vault a fresh vault key pair, as NAME=value lines for a secret store.',
  quarantine: 'quarantine list: quarantined messages by reason and day; quarantine show <message-id>: one record\'s metadata and shape (--reveal: its sealed body, audited).',
  replay: 'Re-run quarantined messages through today\'s validation and masking from their sealed bodies (after a rule was widened or a constraint fixed); audited, resumable.',
};

export function renderUsage(): string {
  const lines = Object.entries(commandSummaries).map(([name, summary]) => `  ${name.padEnd(11)}${summary}`);
  return ['Usage: sqs2pg <command> [options]', '', 'Commands:', ...lines, '', 'Run "sqs2pg <command> --help" for its options.'].join('\n');
}

export function renderHelp(command: CommandName): string {
  const options = settingsFor(command).map(([, spec]) => {
    const flag = `--${spec.flag}${spec.boolean ? '' : ' <value>'}`;
    const details = [`env ${spec.env}`, `default: ${defaultText(spec)}`, spec.unit ? `unit: ${spec.unit}` : ''].filter(Boolean);
    return `  ${flag}\n      ${spec.docFor?.[command] ?? spec.doc}\n      (${details.join('; ')})`;
  });
  const argument = positionalFor[command] ? ` <${positionalFor[command].name}>` : '';
  return [`Usage: sqs2pg ${command}${argument} [options]`, '', commandSummaries[command], '', 'Options:', ...options, '  --help, -h\n      Show this help.'].join('\n');
}

export function renderConfigTable(): string {
  const header = ['| flag | environment | default | unit | commands | meaning |', '|---|---|---|---|---|---|'];
  const rows = (Object.values(settings) as SettingSpec[]).map(
    (spec) =>
      `| \`--${spec.flag}\` | \`${spec.env}\` | ${defaultText(spec, '`')} | ${spec.unit ?? ''} | ${spec.commands.join(', ')} | ${spec.doc.replaceAll('|', '\\|')} |`,
  );
  return [...header, ...rows].join('\n');
}

function defaultText(spec: SettingSpec, quote = ''): string {
  if (spec.defaultDoc) return spec.defaultDoc;
  return spec.default === undefined ? 'none' : `${quote}${spec.default}${quote}`;
}
