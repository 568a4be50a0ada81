// Turns argv and the environment into one command's typed configuration, or a ConfigError whose
// message names the flag, the variable and what to do. Precedence: flag, then environment, then default.
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { nearestName } from './nearest-name.js';
import { positionalFor, settingsFor, type CommandName, type ConfigFor, type SettingSpec } from './schema.js';

export interface CommandLine<C extends CommandName> {
  config: ConfigFor<C>;
  /** --help: the essential options; 'all': --help-all */
  help: false | 'essential' | 'all';
}

export function loadConfig<C extends CommandName>(
  command: C,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): CommandLine<C> {
  const specs = settingsFor(command);
  const options = Object.fromEntries([
    ['help', { type: 'boolean', short: 'h' } as const],
    ['help-all', { type: 'boolean' } as const],
    ...specs.map(([, spec]) => [spec.flag, { type: spec.boolean ? 'boolean' : 'string', multiple: spec.repeatable ?? false } as const]),
  ]) as Record<string, { type: 'boolean' | 'string'; short?: string; multiple?: boolean }>;

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinNegativeNumbers(args, options), options, strict: true, allowPositionals: true });
  } catch (error) {
    const what = describeParseError(error, Object.keys(options));
    throw new ConfigError(`${what}${what.endsWith('?') ? ' ' : '; '}see: sqs2pg ${command} --help`);
  }

  // At most one argument, for the command that takes one; anything else is most likely a flag
  // without its dashes ("run drain"). Never echoed where it stands for a secret setting.
  const positional = positionalFor[command];
  const [first, stray] = positional ? parsed.positionals : [undefined, parsed.positionals[0]];
  if (stray !== undefined) {
    const shown = positional ? '' : ` "${stray}"`;
    throw new ConfigError(`unexpected argument${shown}; see: sqs2pg ${command} --help`);
  }
  if (positional && first !== undefined) {
    const flag = specs.find(([name]) => name === positional.setting)?.[1].flag;
    if (flag === undefined || parsed.values[flag] !== undefined) {
      throw new ConfigError(`give <${positional.name}> either as the argument or as --${flag ?? positional.setting}, not both; see: sqs2pg ${command} --help`);
    }
    parsed.values[flag] = first;
  }

  const config: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const [name, spec] of specs) {
    const flagValue = parsed.values[spec.flag];
    // An empty value (SQS2PG_POLLERS= in a compose file) means "not set", not "invalid".
    const given = [flagValue === undefined ? undefined : String(flagValue), spec.env && env[spec.env]].find((v) => v !== undefined && v !== '');
    // A repeatable flag's values go to its schema as the list they are.
    const raw = Array.isArray(flagValue) ? flagValue : (given ?? spec.defaultFor?.[command] ?? spec.default);
    if (raw === undefined || raw === '') {
      // A required key may come from its file instead (SQS2PG_MASK_KEY_FILE for SQS2PG_MASK_KEY).
      const file = specs.find(([, other]) => other.flag === `${spec.flag}-file`)?.[1];
      const fileGiven = file !== undefined && [parsed.values[file.flag], file.env && env[file.env]].some((v) => v !== undefined && v !== '');
      if (spec.requiredFor?.includes(command) && !fileGiven) {
        missing.push(positional?.setting === name ? `<${positional.name}> (the argument, or --${spec.flag})` : describeSource(spec));
      }
      continue;
    }
    const result = spec.schema.safeParse(raw);
    if (!result.success) {
      const why = result.error.issues[0]?.message ?? 'invalid value';
      const shown = spec.secret ? '' : ` "${String(raw)}"`;
      throw new ConfigError(`invalid ${describeSource(spec)}${shown}: ${why}; fix the flag${spec.env ? ' or the environment variable' : ''}`);
    }
    config[name] = result.data;
  }
  const help = parsed.values['help-all'] === true ? 'all' : parsed.values.help === true ? 'essential' : false;
  if (missing.length > 0 && !help) {
    throw new ConfigError(`${missing.join(', ')} must be set for "sqs2pg ${command}"; see: sqs2pg ${command} --help`);
  }
  return { config: config as ConfigFor<C>, help };
}

function describeSource(spec: SettingSpec): string {
  return spec.env ? `--${spec.flag} (${spec.env})` : `--${spec.flag}`;
}

/**
 * "--messages -5" is a value, not a flag: parseArgs would call it ambiguous. Joined as
 * "--messages=-5", it reaches validation, which says what the value should be.
 */
function joinNegativeNumbers(args: readonly string[], options: Record<string, { type: 'boolean' | 'string' }>): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/** Our own words for parseArgs' errors; a value is never echoed (it may be a key). */
function describeParseError(error: unknown, flags: readonly string[]): string {
  const { code, message } = error as { code?: string; message?: string };
  const text = message ?? '';
  const quoted = /'(-[^' =]*)/.exec(text)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const nearest = quoted.startsWith('--') ? nearestName(quoted.slice(2), flags) : undefined;
    return `unknown flag ${quoted || '(unreadable)'}${nearest ? `; did you mean --${nearest}?` : ''}`;
  }
  if (/argument missing/.test(text)) return `${quoted} needs a value`;
  if (/does not take an argument/.test(text)) return `${quoted} takes no value`;
  if (/ambiguous/.test(text)) return `${quoted} needs a value; to give one that starts with a dash, write ${quoted}=-…`;
  return text.split('\n')[0] ?? 'unreadable arguments';
}
