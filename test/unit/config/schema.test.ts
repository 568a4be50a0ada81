// The shape of the settings schema a user meets: every setting under a heading, a flag and its
// environment variable that say the same name, one-off arguments as flags only, and settings read
// only by the commands that use them.
import { describe, expect, it } from 'vitest';
import { settingGroups, settings, type SettingSpec } from '../../../src/config/schema.js';

const specs = Object.values(settings) as SettingSpec[];
// Names the rest of the world gave these variables first: the take-home's, the AWS SDK's, libpq's habit.
const CONVENTIONAL = { 'queue-url': 'SQS_QUEUE_URL', 'sqs-endpoint': 'AWS_ENDPOINT_URL_SQS', 's3-endpoint': 'AWS_ENDPOINT_URL_S3', region: 'AWS_REGION', 'database-url': 'DATABASE_URL' };

describe('the settings schema', () => {
  it('puts every setting under one of the headings of --help-all', () => {
    for (const spec of specs) expect(settingGroups, `--${spec.flag}`).toContain(spec.group);
  });

  it('names each environment variable after its flag: SQS2PG_ and the flag in capitals', () => {
    for (const spec of specs) {
      if (spec.env === undefined) continue;
      const expected = CONVENTIONAL[spec.flag as keyof typeof CONVENTIONAL] ?? `SQS2PG_${spec.flag.toUpperCase().replaceAll('-', '_')}`;
      expect(spec.env, `--${spec.flag}`).toBe(expected);
    }
  });

  it('takes one-off arguments as flags only, with no environment variable to outlive the command', () => {
    const flagOnly = specs.filter((spec) => spec.env === undefined).map((spec) => spec.flag).sort();
    expect(flagOnly).toEqual(['input', 'limit', 'masked', 'message-id', 'messages', 'reason', 'reveal', 'subject', 'user-id', 'vault', 'where-reason']);
  });

  it('gives the legacy symmetric vault keys only to the commands that open with them', () => {
    for (const name of ['vaultKey', 'vaultKeyFile', 'vaultPreviousKey', 'vaultPreviousKeyFile'] as const) {
      expect([...settings[name].commands].sort(), name).toEqual(['reveal', 'rotate']);
    }
  });

  it('has no two settings of one command with the same flag or variable', () => {
    const seen = new Set<string>();
    for (const spec of specs) {
      for (const command of spec.commands) {
        for (const name of [`--${spec.flag}`, spec.env].filter(Boolean)) {
          expect(seen.has(`${command} ${name}`), `${command} ${name}`).toBe(false);
          seen.add(`${command} ${name}`);
        }
      }
    }
  });
});
