import { randomBytes } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';

const KEY_BYTES = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 255));
const HEX_KEY = KEY_BYTES.toString('hex');
const ENV = { SQS2PG_MASK_KEY: HEX_KEY };

/** The ConfigError that `load` throws; fails the test when it throws nothing or something else. */
function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect([e.code, e.exitCode, e.retryable]).toEqual(['config_invalid', 2, false]);
    expect(e.message).not.toMatch(/[\r\n]/);
    return e;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

describe('loadConfig run', () => {
  it('gives every default', () => {
    const { config, help } = loadConfig('run', [], ENV);
    expect(config).toEqual({
      queueUrl: 'http://localhost:4566/000000000000/login-queue',
      sqsProtocol: 'auto',
      sqsClient: 'lean',
      envelope: 'auto',
      s3Payloads: 'resolve',
      s3DeleteAfterCommit: false,
      region: 'us-east-1',
      databaseUrl: 'postgres://postgres:postgres@localhost:5432/postgres',
      maskKey: KEY_BYTES,
      maskKeyId: 'k1',
      visibilityTimeoutSec: 30,
      receiveWaitSec: 20,
      pollers: 16,
      batchMaxRows: 500,
      batchMaxWaitMs: 200,
      answerBytes: 'count',
      maxInFlightMessages: 2000,
      dbPoolSize: 4,
      workers: 1,
      maxOutageSec: 300,
      drain: false,
      logLevel: 'info',
      logFormat: 'auto',
      vaultKeyId: 'v1',
      queueDepthIntervalSec: 5,
      httpPort: 9464,
      httpHost: '127.0.0.1',
      quiet: false,
      json: false,
    });
    expect(help).toBe(false);
  });

  it.each([
    ['flag beats env', ['--pollers', '8'], { SQS2PG_POLLERS: '6' }, 8],
    ['flag=value form', ['--pollers=9'], { SQS2PG_POLLERS: '6' }, 9],
    ['env beats default', [], { SQS2PG_POLLERS: '6' }, 6],
    ['default', [], {}, 16],
    ['last flag wins', ['--pollers', '2', '--pollers', '3'], {}, 3],
    ['surrounding spaces allowed', [], { SQS2PG_POLLERS: ' 7 ' }, 7],
  ])('pollers: %s', (_name, args, env, expected) => {
    expect(loadConfig('run', args, { ...ENV, ...env }).config.pollers).toBe(expected);
  });

  it.each([
    [['--queue-url', 'https://sqs.eu-west-1.amazonaws.com/1/q'], { SQS_QUEUE_URL: 'http://env/1/q' }, 'https://sqs.eu-west-1.amazonaws.com/1/q'],
    [[], { SQS_QUEUE_URL: 'http://env/1/q' }, 'http://env/1/q'],
  ])('queueUrl from %j and %j', (args, env, expected) => {
    expect(loadConfig('run', args, { ...ENV, ...env }).config.queueUrl).toBe(expected);
  });

  it.each([
    [['--region', 'eu-west-1'], { AWS_REGION: 'ap-southeast-2' }, 'eu-west-1'],
    [[], { AWS_REGION: 'ap-southeast-2' }, 'ap-southeast-2'],
    [[], {}, 'us-east-1'],
  ])('region from %j and %j', (args, env, expected) => {
    expect(loadConfig('run', args, { ...ENV, ...env }).config.region).toBe(expected);
  });

  it.each([
    [['--visibility-timeout-sec', '120'], { SQS2PG_VISIBILITY_TIMEOUT_SEC: '60' }, 120],
    [[], { SQS2PG_VISIBILITY_TIMEOUT_SEC: '60' }, 60],
    [[], {}, 30],
  ])('visibilityTimeoutSec from %j and %j', (args, env, expected) => {
    expect(loadConfig('run', args, { ...ENV, ...env }).config.visibilityTimeoutSec).toBe(expected);
  });

  it.each([
    ['no flag, no env', [], {}, false],
    ['bare --drain', ['--drain'], {}, true],
    ['SQS2PG_DRAIN=true', [], { SQS2PG_DRAIN: 'true' }, true],
    ['SQS2PG_DRAIN=1', [], { SQS2PG_DRAIN: '1' }, true],
    ['SQS2PG_DRAIN=false', [], { SQS2PG_DRAIN: 'false' }, false],
    ['--drain beats SQS2PG_DRAIN=false', ['--drain'], { SQS2PG_DRAIN: 'false' }, true],
  ])('drain: %s', (_name, args, env, expected) => {
    expect(loadConfig('run', args, { ...ENV, ...env }).config.drain).toBe(expected);
  });

  it.each([
    ['default', [], {}, 'auto'],
    ['flag', ['--sqs-protocol', 'query'], { SQS2PG_SQS_PROTOCOL: 'json' }, 'query'],
    ['environment', [], { SQS2PG_SQS_PROTOCOL: 'json' }, 'json'],
  ])('sqsProtocol: %s', (_name, args, env, expected) => {
    expect(loadConfig('run', args, { ...ENV, ...env }).config.sqsProtocol).toBe(expected);
  });

  it('refuses an --sqs-protocol it does not know, naming the choices', () => {
    const message = configError(() => loadConfig('run', ['--sqs-protocol', 'xml'], ENV)).message;
    expect(message).toBe('invalid --sqs-protocol (SQS2PG_SQS_PROTOCOL) "xml": expected auto, json or query; fix the flag or the environment variable');
  });

  it('refuses a drain flag with a value', () => {
    expect(configError(() => loadConfig('run', ['--drain=yes'], ENV)).message).toContain('--drain');
  });

  it('refuses an SQS2PG_DRAIN that is not a boolean', () => {
    expect(configError(() => loadConfig('run', [], { ...ENV, SQS2PG_DRAIN: 'maybe' })).message).toContain('SQS2PG_DRAIN');
  });

  it('returns --help', () => {
    expect(loadConfig('run', ['-h'], ENV).help).toBe('essential');
    expect(loadConfig('run', ['--help-all'], ENV).help).toBe('all');
  });

  it('refuses a stray argument, most likely a flag without its dashes', () => {
    const error = configError(() => loadConfig('run', ['drain'], ENV));
    expect(error.message).toBe('unexpected argument "drain"; see: sqs2pg run --help');
  });
});

describe('loadConfig run, mask key', () => {
  it('requires SQS2PG_MASK_KEY, and says so on one line', () => {
    const error = configError(() => loadConfig('run', [], {}));
    expect(error.message).toContain('SQS2PG_MASK_KEY');
    expect(error.message).toContain('--mask-key');
  });

  it('treats an empty SQS2PG_MASK_KEY as missing', () => {
    expect(configError(() => loadConfig('run', [], { SQS2PG_MASK_KEY: '' })).message).toContain('SQS2PG_MASK_KEY');
  });

  it('does not require the key when only --help is asked for', () => {
    expect(loadConfig('run', ['--help'], {}).help).toBe('essential');
    expect(loadConfig('run', ['--help-all'], {}).help).toBe('all');
  });

  it.each([
    ['hex', HEX_KEY],
    ['upper-case hex', HEX_KEY.toUpperCase()],
    ['base64', KEY_BYTES.toString('base64')],
    ['hex with a trailing newline, as read from a file', `${HEX_KEY}\n`],
  ])('accepts a 32-byte %s key and decodes it', (_name, text) => {
    const { maskKey } = loadConfig('run', [], { SQS2PG_MASK_KEY: text }).config;
    expect(Buffer.isBuffer(maskKey)).toBe(true);
    expect(maskKey?.length).toBe(32);
    expect(maskKey?.equals(KEY_BYTES)).toBe(true);
  });

  it('accepts the key from --mask-key over the environment', () => {
    const other = Buffer.from(KEY_BYTES).reverse();
    const { maskKey } = loadConfig('run', ['--mask-key', other.toString('base64')], ENV).config;
    expect(maskKey?.equals(other)).toBe(true);
  });

  it('accepts any 32 random bytes in hex or base64', () => {
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom('hex', 'base64') , (_seed, encoding) => {
        const key = randomBytes(32);
        const { maskKey } = loadConfig('run', [], { SQS2PG_MASK_KEY: key.toString(encoding) }).config;
        expect(maskKey?.equals(key)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it.each([
    ['16-byte hex key in the environment', [], { SQS2PG_MASK_KEY: 'deadbeefcafef00d'.repeat(2) }, 'deadbeefcafef00d'],
    ['31-byte base64 key in the environment', [], { SQS2PG_MASK_KEY: Buffer.alloc(31, 0xab).toString('base64') }, Buffer.alloc(31, 0xab).toString('base64')],
    ['short key as a flag', ['--mask-key', 'c2VjcmV0LWtleS10ZXh0'], {}, 'c2VjcmV0LWtleS10ZXh0'],
    ['key that is neither hex nor base64', [], { SQS2PG_MASK_KEY: 'my secret passphrase!' }, 'passphrase'],
  ])('refuses a %s and never shows the key text', (_name, args, env, keyText) => {
    const error = configError(() => loadConfig('run', args, env));
    expect(error.message).toContain('SQS2PG_MASK_KEY');
    expect(error.message).not.toContain(keyText);
  });

  it('says how many bytes a short key has and how to make one', () => {
    const error = configError(() => loadConfig('run', [], { SQS2PG_MASK_KEY: KEY_BYTES.subarray(0, 24).toString('base64') }));
    expect(error.message).toContain('24 bytes');
    expect(error.message).toContain('sqs2pg keygen');
  });
});

describe('loadConfig run, invalid values', () => {
  it.each([
    ['a word', ['--pollers', 'abc'], {}],
    ['zero', ['--pollers', '0'], {}],
    ['too many', ['--pollers', '65'], {}],
    ['a fraction', ['--pollers', '1.5'], {}],
    ['a negative number', ['--pollers=-1'], {}],
    ['a word in the environment', [], { SQS2PG_POLLERS: 'abc' }],
    ['zero in the environment', [], { SQS2PG_POLLERS: '0' }],
  ])('pollers as %s names both --pollers and SQS2PG_POLLERS', (_name, args, env) => {
    const error = configError(() => loadConfig('run', args, { ...ENV, ...env }));
    expect(error.message).toContain('--pollers');
    expect(error.message).toContain('SQS2PG_POLLERS');
  });

  it('shows the bad value of a setting that is not secret', () => {
    expect(configError(() => loadConfig('run', ['--pollers', 'abc'], ENV)).message).toContain('"abc"');
  });

  it.each([
    ['an unknown flag', ['--nope'], '--nope'],
    ['an unknown flag with a value', ['--nope=1'], '--nope'],
    ['a flag of another command', ['--messages', '5'], '--messages'],
    ['a misspelt flag', ['--poller', '3'], '--poller'],
  ])('refuses %s', (_name, args, named) => {
    expect(configError(() => loadConfig('run', args, ENV)).message).toContain(named);
  });

  it('refuses a string flag without its value', () => {
    expect(configError(() => loadConfig('run', ['--pollers'], ENV)).message).toBe('--pollers needs a value; see: sqs2pg run --help');
  });

  it.each([
    [['--drian'], 'unknown flag --drian; did you mean --drain? see: sqs2pg run --help'],
    [['--qiet'], 'unknown flag --qiet; did you mean --quiet? see: sqs2pg run --help'],
    [['--mask-kye=0123456789abcdef'], 'unknown flag --mask-kye; did you mean --mask-key? see: sqs2pg run --help'],
    [['--frobnicate'], 'unknown flag --frobnicate; see: sqs2pg run --help'],
    [['--drain=yes'], '--drain takes no value; see: sqs2pg run --help'],
  ])('our own line for %j, with the nearest flag and no value echoed', (args, expected) => {
    expect(configError(() => loadConfig('run', args, ENV)).message).toBe(expected);
  });

  it('a negative number is a value that validation refuses, not an "ambiguous" flag', () => {
    expect(configError(() => loadConfig('demo', ['--messages', '-5'], {})).message).toBe(
      'invalid --messages "-5": expected at least 0; fix the flag',
    );
  });

  it.each([
    ['environment', [], { DATABASE_URL: 'mysql://u:secretpw@h/db' }],
    ['flag', ['--database-url', 'mysql://u:secretpw@h/db'], {}],
    ['environment, not a URL', [], { DATABASE_URL: 'secretpw' }],
  ])('refuses a bad DATABASE_URL from the %s without showing it', (_name, args, env) => {
    const error = configError(() => loadConfig('run', args, { ...ENV, ...env }));
    expect(error.message).toContain('DATABASE_URL');
    expect(error.message).not.toContain('secretpw');
  });

  it('does not echo a secret given to a command that does not take it', () => {
    const error = configError(() => loadConfig('demo', ['--database-url=postgres://u:secretpw@h/db'], {}));
    expect(error.message).toContain('--database-url');
    expect(error.message).not.toContain('secretpw');
  });

  it.each([
    ['SQS_QUEUE_URL', 'ftp://example.com/q'],
    ['AWS_ENDPOINT_URL_SQS', 'not a url'],
    ['AWS_REGION', 'US_EAST_1'],
    ['SQS2PG_MASK_KEY_ID', 'K1!'],
    ['SQS2PG_LOG_LEVEL', 'verbose'],
    ['SQS2PG_VISIBILITY_TIMEOUT_SEC', '43201'],
    ['SQS2PG_MAX_IN_FLIGHT_MESSAGES', '9'],
  ])('refuses a bad %s and names it', (name, value) => {
    expect(configError(() => loadConfig('run', [], { ...ENV, [name]: value })).message).toContain(name);
  });

  // Compose files often leave a variable empty (SQS2PG_POLLERS=): that means unset, not invalid.
  it('treats an empty variable as unset and uses the default', () => {
    expect(loadConfig('run', [], { ...ENV, SQS2PG_POLLERS: '', AWS_REGION: '' }).config).toMatchObject({
      pollers: 16,
      region: 'us-east-1',
    });
  });
});

describe('loadConfig demo', () => {
  it('defaults the log level to warn and needs no mask key', () => {
    const { config } = loadConfig('demo', [], {});
    expect(config.logLevel).toBe('warn');
    expect(config.maskKey).toBeUndefined();
    expect([config.demoMessages, config.dataDir, config.maskKeyId]).toEqual([1000, '.sqs2pg', 'k1']);
  });

  it('still takes a log level from the environment or a flag', () => {
    expect(loadConfig('demo', [], { SQS2PG_LOG_LEVEL: 'debug' }).config.logLevel).toBe('debug');
    expect(loadConfig('demo', ['--log-level', 'error'], { SQS2PG_LOG_LEVEL: 'debug' }).config.logLevel).toBe('error');
  });

  it('uses a mask key when one is given, and refuses a short one', () => {
    expect(loadConfig('demo', [], ENV).config.maskKey?.equals(KEY_BYTES)).toBe(true);
    expect(configError(() => loadConfig('demo', [], { SQS2PG_MASK_KEY: 'abcd' })).message).toContain('SQS2PG_MASK_KEY');
  });

  it('reads only its own settings', () => {
    const { config } = loadConfig('demo', [], { SQS_QUEUE_URL: 'ftp://bad', DATABASE_URL: 'mysql://x', SQS2PG_DRAIN: 'maybe' });
    expect(Object.keys(config).sort()).toEqual(
      [
        'batchMaxRows', 'batchMaxWaitMs', 'dataDir', 'dbPoolSize', 'demoMessages', 'logFormat', 'logLevel', 'maskKeyId',
        'maxInFlightMessages', 'maxOutageSec', 'pollers', 'receiveWaitSec', 'visibilityTimeoutSec',
        'queueDepthIntervalSec', 'httpPort', 'httpHost', 'quiet', 'envelope', 'answerBytes',
      ].sort(),
    );
    // The demo is a one-shot on a laptop: no HTTP server unless asked for.
    expect(config.httpPort).toBe(0);
  });

  it('refuses the flags of run', () => {
    expect(configError(() => loadConfig('demo', ['--drain'], {})).message).toContain('--drain');
  });
});

describe('loadConfig check', () => {
  it('reads every setting run reads, so it validates what the worker will get', () => {
    const run = Object.keys(loadConfig('run', [], ENV).config).sort();
    expect(Object.keys(loadConfig('check', [], ENV).config).sort()).toEqual(run);
  });

  it('needs no mask key (it reports a missing one as a problem instead)', () => {
    expect(loadConfig('check', [], {}).config.maskKey).toBeUndefined();
  });

  it.each([
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::'],
    ['localhost', 'localhost'],
  ])('binds the HTTP server to %s', (given, expected) => {
    expect(loadConfig('run', [], { ...ENV, SQS2PG_HTTP_HOST: given }).config.httpHost).toBe(expected);
  });

  it('refuses an HTTP host that is not an address, and a port out of range', () => {
    expect(configError(() => loadConfig('run', [], { ...ENV, SQS2PG_HTTP_HOST: 'http://0.0.0.0' })).message).toContain('SQS2PG_HTTP_HOST');
    expect(configError(() => loadConfig('run', ['--http-port', '70000'], ENV)).message).toContain('--http-port');
  });
});

describe('loadConfig migrate', () => {
  it('reads only the database URL and the log level', () => {
    const { config } = loadConfig('migrate', [], {
      SQS_QUEUE_URL: 'ftp://bad',
      SQS2PG_POLLERS: 'abc',
      SQS2PG_MASK_KEY: 'short',
      SQS2PG_DRAIN: 'maybe',
      DATABASE_URL: 'postgresql://app:pw@db:5432/logins',
    });
    expect(config).toEqual({ databaseUrl: 'postgresql://app:pw@db:5432/logins', logLevel: 'info', logFormat: 'auto' });
  });

  it('needs no mask key', () => {
    expect(loadConfig('migrate', [], {}).config.databaseUrl).toBe('postgres://postgres:postgres@localhost:5432/postgres');
  });

  it('refuses pipeline flags', () => {
    expect(configError(() => loadConfig('migrate', ['--pollers', '2'], {})).message).toContain('--pollers');
  });
});

describe('loadConfig reveal', () => {
  const MASK = `k1:${'ab'.repeat(32)}`;

  it('takes the masked value as its argument, or as --masked', () => {
    expect(loadConfig('reveal', [MASK, '--reason', 'ticket 42'], {}).config).toMatchObject({ masked: MASK, reason: 'ticket 42' });
    expect(loadConfig('reveal', ['--masked', MASK, '--reason', 'ticket 42'], {}).config.masked).toBe(MASK);
  });

  it('requires the reason and the masked value', () => {
    expect(configError(() => loadConfig('reveal', [MASK], {})).message).toContain('--reason');
    expect(configError(() => loadConfig('reveal', ['--reason', 'ticket 42'], {})).message).toBe(
      '<masked-value> (the argument, or --masked) must be set for "sqs2pg reveal"; see: sqs2pg reveal --help',
    );
  });

  it('refuses anything but a mask, without echoing it (it could be the raw value)', () => {
    const error = configError(() => loadConfig('reveal', ['203.0.113.9', '--reason', 'ticket 42'], {}));
    expect(error.message).toContain('expected a masked value');
    expect(error.message).not.toContain('203.0.113.9');
  });

  it('refuses two arguments, or the argument and --masked, without echoing them', () => {
    const two = configError(() => loadConfig('reveal', [MASK, '593-47-5928', '--reason', 'ticket 42'], {}));
    expect(two.message).not.toContain('593-47-5928');
    expect(configError(() => loadConfig('reveal', [MASK, '--masked', MASK, '--reason', 'ticket 42'], {})).message).toContain('not both');
  });

  it('reads only the settings it needs', () => {
    const { config } = loadConfig('reveal', [MASK, '--reason', 'ticket 42'], { SQS2PG_MASK_KEY: 'short', SQS2PG_POLLERS: 'x' });
    expect(Object.keys(config).sort()).toEqual(['databaseUrl', 'masked', 'reason']);
  });
});

describe('loadConfig forget, rotate, grants', () => {
  it('forget takes --user-id or --masked, and an optional reason', () => {
    expect(loadConfig('forget', ['--user-id', 'u-1'], {}).config).toMatchObject({ userId: 'u-1' });
    expect(loadConfig('forget', ['--user-id', 'u-1'], {}).config.reason).toBeUndefined();
  });

  it('rotate reads the new mask key (optional), the key ids, the batch size and the pause', () => {
    const { config } = loadConfig('rotate', ['--mask-key-id', 'k2', '--rotate-pause-ms', '5'], { SQS2PG_MASK_KEY: HEX_KEY });
    expect(config).toMatchObject({ maskKeyId: 'k2', vaultKeyId: 'v1', batchMaxRows: 500, rotatePauseMs: 5 });
    expect(config.maskKey?.equals(KEY_BYTES)).toBe(true);
    expect(loadConfig('rotate', [], {}).config.maskKey).toBeUndefined();
  });

  it('grants refuses a role prefix that is not a plain identifier', () => {
    expect(loadConfig('grants', [], {}).config.rolePrefix).toBe('sqs2pg_');
    expect(configError(() => loadConfig('grants', ['--role-prefix', 'x"; DROP'], {})).message).toContain('--role-prefix');
  });
});
