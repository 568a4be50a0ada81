// docker-compose.yml without a Docker engine: it parses, it runs the take-home's two images plus
// sqs2pg, and the environment it gives sqs2pg is sqs2pg's own and points at those services.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { readYaml, ROOT, schemaEnv, SOME_KEY } from './manifests.js';

interface Compose {
  services: Record<string, { image?: string; build?: string; command?: string[]; environment?: Record<string, string>; ports?: string[]; depends_on?: string[] }>;
}

const [compose] = readYaml(`${ROOT}docker-compose.yml`) as [Compose];
const sqs2pg = compose.services.sqs2pg!;

/** Compose's ${NAME:?message} and ${NAME} from a given environment; a missing required one throws. */
function interpolate(value: string, shell: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::\?([^}]*))?\}/g, (_match, name: string, required: string | undefined) => {
    const given = shell[name];
    if (given === undefined || given === '') {
      if (required !== undefined) throw new Error(`compose: ${name}: ${required}`);
      return '';
    }
    return given;
  });
}

describe('docker-compose.yml', () => {
  it("runs the take-home's two images and sqs2pg built from this folder", () => {
    expect(Object.keys(compose.services).sort()).toEqual(['localstack', 'postgres', 'sqs2pg']);
    expect(compose.services.localstack?.image).toBe('fetchdocker/data-takehome-localstack');
    expect(compose.services.postgres?.image).toBe('fetchdocker/data-takehome-postgres');
    expect(sqs2pg.build).toBe('.');
    expect(sqs2pg.depends_on?.sort()).toEqual(['localstack', 'postgres']);
  });

  it('sets only variables the configuration schema knows', () => {
    expect(Object.keys(sqs2pg.environment ?? {}).filter((name) => !schemaEnv.has(name))).toEqual([]);
  });

  it('wires the queue to localstack and the database to postgres: a valid run configuration', () => {
    const env = Object.fromEntries(Object.entries(sqs2pg.environment ?? {}).map(([name, value]) => [name, interpolate(String(value), { SQS2PG_MASK_KEY: SOME_KEY })]));
    const [command, ...args] = sqs2pg.command ?? [];
    expect(command).toBe('run');
    const { config } = loadConfig('run', args, env);
    expect(new URL(config.queueUrl).host).toBe('localstack:4566');
    expect(new URL(config.queueUrl).pathname).toBe('/000000000000/login-queue');
    expect(config.sqsEndpoint).toBe('http://localstack:4566');
    expect(new URL(config.databaseUrl).host).toBe('postgres:5432');
    expect(config.maskKey?.equals(Buffer.from(SOME_KEY, 'base64'))).toBe(true);
    expect(config.httpHost).toBe('0.0.0.0');
    expect(compose.services.localstack?.ports).toContain('4566:4566');
    expect(sqs2pg.ports).toContain(`127.0.0.1:${config.httpPort}:${config.httpPort}`);
  });

  it('commits no mask key: it must come from the shell, or compose refuses to start', () => {
    expect(sqs2pg.environment?.SQS2PG_MASK_KEY).toMatch(/^\$\{SQS2PG_MASK_KEY:\?.+\}$/);
    expect(() => interpolate(String(sqs2pg.environment?.SQS2PG_MASK_KEY), {})).toThrow(/openssl rand -base64 32/);
  });
});
