// sqs2pg keygen with the real CLI: NAME=value lines a secret store takes as they are, holding keys
// that sqs2pg itself accepts, fresh each time; --vault gives a pair whose halves belong together.
import { describe, expect, it } from 'vitest';
import { decodeKey } from '../../src/config/key.js';
import { publicKeyOf } from '../../src/vault/sealed-box.js';
import { runCli } from '../helpers/stack.js';

const env = { PATH: process.env.PATH };

function lines(stdout: string): Map<string, string> {
  return new Map(
    stdout
      .trim()
      .split('\n')
      .map((line) => {
        const match = /^([A-Z0-9_]+)=(\S+)$/.exec(line);
        expect(match, line).not.toBeNull();
        return [match![1]!, match![2]!] as const;
      }),
  );
}

describe('sqs2pg keygen', () => {
  it('prints a fresh mask key that sqs2pg accepts', async () => {
    const [a, b] = await Promise.all([runCli(['keygen'], env, 15_000), runCli(['keygen'], env, 15_000)]);
    expect(a.code, a.stderr).toBe(0);
    const first = lines(a.stdout);
    expect([...first.keys()]).toEqual(['SQS2PG_MASK_KEY']);
    expect(decodeKey(first.get('SQS2PG_MASK_KEY')!)).toBeInstanceOf(Buffer);
    expect(lines(b.stdout).get('SQS2PG_MASK_KEY')).not.toBe(first.get('SQS2PG_MASK_KEY'));
    expect(a.stderr).toBe('');
  });

  it('--vault prints a key pair: the public key for workers, the private key for the officer', async () => {
    const result = await runCli(['keygen', '--vault'], env, 15_000);
    expect(result.code, result.stderr).toBe(0);
    const pair = lines(result.stdout);
    expect([...pair.keys()]).toEqual(['SQS2PG_VAULT_PUBLIC_KEY', 'SQS2PG_VAULT_PRIVATE_KEY']);
    const publicKey = decodeKey(pair.get('SQS2PG_VAULT_PUBLIC_KEY')!);
    const privateKey = decodeKey(pair.get('SQS2PG_VAULT_PRIVATE_KEY')!);
    expect(publicKey).toBeInstanceOf(Buffer);
    expect(privateKey).toBeInstanceOf(Buffer);
    expect(publicKeyOf(privateKey as Buffer).equals(publicKey as Buffer)).toBe(true);
  });
});
