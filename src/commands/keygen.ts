// sqs2pg keygen [--vault]: fresh keys as NAME=value lines, ready for a secret store. A mask key by
// default; with --vault, a vault key pair: the public key for workers, the private key for the
// PII officer alone. The only place sqs2pg prints a secret, because it is asked to make one.
import { renderHelp } from '../config/help.js';
import { freshKey } from '../config/key.js';
import { loadConfig } from '../config/load.js';
import { generateVaultKeyPair } from '../vault/sealed-box.js';

export function keygen(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('keygen', args, env);
  if (help) {
    console.log(renderHelp('keygen', help === 'all'));
    return Promise.resolve(0);
  }
  if (config.keygenVault) {
    const { publicKey, privateKey } = generateVaultKeyPair();
    console.log(`SQS2PG_VAULT_PUBLIC_KEY=${publicKey.toString('base64')}\nSQS2PG_VAULT_PRIVATE_KEY=${privateKey.toString('base64')}`);
  } else {
    console.log(`SQS2PG_MASK_KEY=${freshKey()}`);
  }
  return Promise.resolve(0);
}
