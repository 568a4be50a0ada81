// --help text and docs/configuration.md's tables, both generated from the one schema. A command's
// --help shows the settings most runs need; --help-all every one, under its group's heading.
import { isEssential, positionalFor, settingGroups, settings, settingsFor, type CommandName, type SettingGroup, type SettingSpec } from './schema.js';

/** Widest line of any help text: readable in an 100-column terminal without wrapping. */
export const HELP_COLUMNS = 100;

export const commandSummaries: Record<CommandName, string> = {
  run: 'Move messages from SQS into PostgreSQL: a service until SIGTERM, or --drain to stop when the queue is empty.',
  demo: 'Zero-setup first run: embedded SQS and PostgreSQL, a generated sample (or --input, your own events), a drain and a report; --config FILE: every pipeline of the file.',
  local: 'Keep an embedded SQS server and PostgreSQL running for your own "sqs2pg run" (--config FILE: a queue for every pipeline of the file), and print how to reach them.',
  migrate: 'Apply the database migrations (run also does this at start).',
  check: 'Check the configuration, SQS, PostgreSQL, the table, the migrations and the privileges; one line each.',
  pipelines: 'pipelines show [<name>]: a pipeline as YAML to start from (without --config: the builtin logins); pipelines validate <file>: every fault of a pipeline file, or ok; pipelines schema: its JSON Schema, for editors.',
  reveal: 'Print the original value behind a mask, from the vault, and audit it (needs the vault private key and a PII officer role).',
  forget: "Erase a user (--user-id) or a pipeline's subject (--pipeline --subject), with a tombstone that keeps their later messages out, or one masked value (--masked).",
  rotate: "Bring existing rows and vault entries to the configured keys: re-mask under a new mask key, re-seal under a new vault key pair (and legacy entries to it). Run as the tables' owner.",
  grants: 'Create the worker, analyst and PII officer roles with least privilege, and grant them.',
  keygen: 'Print a fresh mask key, or with --vault a fresh vault key pair, as NAME=value lines for a secret store.',
  quarantine: "quarantine list: quarantined messages by day, pipeline and reason (--pipeline NAME: one pipeline's); quarantine show <message-id>: one record's metadata and shape (--reveal: its sealed body, audited).",
  replay: "Re-run quarantined messages through today's validation and masking from their sealed bodies (after a rule was widened or a constraint fixed); audited, resumable.",
};

export function renderUsage(version: string): string {
  const width = 13;
  const lines = Object.entries(commandSummaries).flatMap(([name, summary]) => {
    const [first = '', ...rest] = wrap(summary, HELP_COLUMNS - width - 2);
    return [`  ${name.padEnd(width - 2)}${first}`.trimEnd(), ...rest.map((line) => `${' '.repeat(width)}${line}`)];
  });
  return [
    `sqs2pg ${version}: moves JSON events from SQS into PostgreSQL, masking personal data on the way:`,
    'login events by default, or the event types a pipeline file declares (--config).',
    '',
    'Usage: sqs2pg <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run "sqs2pg <command> --help" for its options, "sqs2pg --version" for the version.',
  ].join('\n');
}

/** `<command> --help` (essential settings), or with `all` every setting under its group. */
export function renderHelp(command: CommandName, all = false): string {
  const specs = settingsFor(command).map(([, spec]) => spec);
  // What the command is asked to do (--user-id, --input) before how it reaches its servers.
  const shown = all ? specs : specs.filter((spec) => isEssential(spec, command)).sort((a, b) => Number(b.group === 'Command') - Number(a.group === 'Command'));
  const hidden = specs.filter((spec) => !shown.includes(spec));
  const lines = [`Usage: ${usageOf(command)}`, '', ...wrap(commandSummaries[command], HELP_COLUMNS), ''];
  if (all) {
    lines.push('Options (a flag wins over its environment variable, which wins over the default):');
    for (const group of [...settingGroups, undefined]) {
      const inGroup = shown.filter((spec) => spec.group === group);
      if (inGroup.length === 0) continue;
      lines.push('', `${group ?? 'Other'}:`, ...inGroup.flatMap((spec) => optionLines(spec, command)));
    }
    lines.push('', 'Help:');
  } else {
    lines.push('Options (a flag wins over its environment variable, which wins over the default):');
    lines.push(...shown.flatMap((spec) => optionLines(spec, command)));
  }
  lines.push(`  ${'--help, -h'.padEnd(FLAG_WIDTH)}the options most runs need`, `  ${'--help-all'.padEnd(FLAG_WIDTH)}every option, by subject`);
  if (hidden.length > 0) {
    const groups = [...new Set(hidden.map((spec) => spec.group ?? 'Other'))].join('; ');
    lines.push('', ...wrap(`${hidden.length} more option${hidden.length === 1 ? '' : 's'} (${groups}):`, HELP_COLUMNS), `  sqs2pg ${command} --help-all`);
  }
  return lines.join('\n');
}

/** "sqs2pg reveal <masked-value> [options]": the command with its argument, if it takes one. */
export function usageOf(command: CommandName): string {
  if (command === 'quarantine') return 'sqs2pg quarantine list | show <message-id> [options]';
  if (command === 'pipelines') return 'sqs2pg pipelines show [<name>] | validate <file> | schema [options]';
  const argument = positionalFor[command] ? ` <${positionalFor[command].name}>` : '';
  return `sqs2pg ${command}${argument} [options]`;
}

const FLAG_WIDTH = 38;
const DOC_INDENT = '      ';

function optionLines(spec: SettingSpec, command: CommandName): string[] {
  const flag = `--${spec.flag}${spec.boolean ? '' : ` <${placeholder(spec)}>`}`;
  const head = `  ${flag.padEnd(FLAG_WIDTH)}${spec.env ?? '(flag only)'}`;
  const doc = spec.docFor?.[command] ?? spec.doc;
  const details = detailsText(spec, command);
  const text = doc.endsWith(details.trim()) ? doc : `${doc}${details}`;
  return [head.length <= HELP_COLUMNS ? head : `  ${flag}  ${spec.env ?? ''}`.trimEnd(), ...wrap(text, HELP_COLUMNS - DOC_INDENT.length).map((line) => `${DOC_INDENT}${line}`)];
}

function placeholder(spec: SettingSpec): string {
  if (spec.flag.endsWith('-file') || spec.flag === 'input') return 'file';
  if (spec.flag.endsWith('-url')) return 'url';
  if (spec.flag.endsWith('-key')) return 'key';
  if (spec.flag.endsWith('-port')) return 'port';
  if (spec.unit) return 'n';
  return 'value';
}

/** " Default: 30 s." for --help; booleans off by default and settings without one say nothing. */
function detailsText(spec: SettingSpec, command: CommandName): string {
  if (spec.requiredFor?.includes(command)) return ' Required.';
  if (spec.boolean) return '';
  // A command's own default replaces the documented one, which names every command's.
  const given = spec.defaultFor?.[command] ?? spec.default;
  const text = spec.defaultFor || !spec.defaultDoc ? given && `${given}${unitText(spec)}` : spec.defaultDoc.replaceAll('`', '');
  // "none ..." is what the doc already says: without it, the setting is off.
  return !text || text.startsWith('none') ? '' : ` Default: ${text}.`;
}

function unitText(spec: SettingSpec): string {
  return spec.unit ? ` ${spec.unit}` : '';
}

/** Words joined into lines of at most `width` columns (a longer word stands alone). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** docs/configuration.md's tables: one per group, every setting of every command. */
export function renderConfigTables(): string {
  const all = Object.values(settings) as SettingSpec[];
  const sections: string[] = [];
  for (const group of [...settingGroups, undefined] as (SettingGroup | undefined)[]) {
    const specs = all.filter((spec) => spec.group === group);
    if (specs.length === 0) continue;
    sections.push(
      [
        `### ${group ?? 'Other'}`,
        '',
        '| flag | environment | default | commands | meaning |',
        '|---|---|---|---|---|',
        ...specs.map(
          (spec) =>
            `| \`--${spec.flag}\` | ${spec.env ? `\`${spec.env}\`` : 'flag only'} | ${defaultCell(spec)} | ${spec.commands.join(', ')} | ${spec.doc.replaceAll('|', '\\|')} |`,
        ),
      ].join('\n'),
    );
  }
  return sections.join('\n\n');
}

function defaultCell(spec: SettingSpec): string {
  if (spec.defaultDoc) return spec.defaultDoc;
  if (spec.default === undefined) return 'none';
  const others = Object.entries(spec.defaultFor ?? {}).map(([command, value]) => `; ${command}: \`${value}\``);
  return `\`${spec.default}\`${unitText(spec)}${others.join('')}`;
}
