// Turns argv and the environment into one command's typed configuration, or a ConfigError whose
// message names the flag, the variable and what to do. Precedence: flag, then environment, then default.
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { positionalFor, settingsFor, type CommandName, type ConfigFor, type SettingSpec } from './schema.js';

export interface CommandLine<C extends CommandName> {
  config: ConfigFor<C>;
  help: boolean;
}

export function loadConfig<C extends CommandName>(
  command: C,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): CommandLine<C> {
  const specs = settingsFor(command);
  const options = Object.fromEntries([
    ['help', { type: 'boolean', short: 'h' } as const],
    ...specs.map(([, spec]) => [spec.flag, { type: spec.boolean ? 'boolean' : 'string' } as const]),
  ]) as Record<string, { type: 'boolean' | 'string'; short?: string }>;

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new ConfigError(`${(error as Error).message.split('\n')[0]}; see: sqs2pg ${command} --help`);
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
    const given = [flagValue === undefined ? undefined : String(flagValue), env[spec.env]].find((v) => v !== undefined && v !== '');
    const raw = given ?? spec.defaultFor?.[command] ?? spec.default;
    if (raw === undefined || raw === '') {
      // A required key may come from its file instead (SQS2PG_MASK_KEY_FILE for SQS2PG_MASK_KEY).
      const file = specs.find(([, other]) => other.env === `${spec.env}_FILE`)?.[1];
      const fileGiven = file !== undefined && [parsed.values[file.flag], env[file.env]].some((v) => v !== undefined && v !== '');
      if (spec.requiredFor?.includes(command) && !fileGiven) missing.push(describeSource(spec));
      continue;
    }
    const result = spec.schema.safeParse(raw);
    if (!result.success) {
      const why = result.error.issues[0]?.message ?? 'invalid value';
      const shown = spec.secret ? '' : ` "${raw}"`;
      throw new ConfigError(`invalid ${describeSource(spec)}${shown}: ${why}; fix the flag or the environment variable`);
    }
    config[name] = result.data;
  }
  if (missing.length > 0 && !parsed.values.help) {
    throw new ConfigError(`${missing.join(', ')} must be set for "sqs2pg ${command}"; see: sqs2pg ${command} --help`);
  }
  return { config: config as ConfigFor<C>, help: parsed.values.help === true };
}

function describeSource(spec: SettingSpec): string {
  return `--${spec.flag} (${spec.env})`;
}
