// Where the CLI finds signing keys: GnuPG homedirs (through `gpg
// --export-secret-keys`, since gpg's own key store is not a format to parse
// ourselves), armored key files, and ed25519 secrets given inline or in files.
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { OtError } from '../shared/errors.js';
import { lazyRequire } from '../shared/lazy-require.js';
import { ed25519SecretKey, readGpgPrivateKey, type GpgPrivateKey } from '../shared/sign/index.js';
import type { KeyObject } from 'node:crypto';


/**
 * The secret key `keyId` from a GnuPG homedir (or a file path to an
 * armored/binary key, when `keyId` names an existing file).
 */
export async function loadGpgSigningKey(keyId: string, homedir: string | undefined): Promise<GpgPrivateKey> {
  try {
    return await readGpgPrivateKey(await readFile(keyId));
  } catch (err: unknown) {
    if (err instanceof OtError) throw err;
  }
  const args = ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...(homedir ? ['--homedir', homedir] : []), '--export-secret-keys', keyId];
  let out: Buffer;
  try {
    const { execFile } = lazyRequire<typeof import('node:child_process')>('node:child_process');
    out = (await promisify(execFile)('gpg', args, { encoding: 'buffer', maxBuffer: 1 << 24 })).stdout;
  } catch (err: unknown) {
    throw new OtError('ERR_INVALID_ARGUMENT', `Could not export secret key ${keyId} from ${homedir ?? 'the default GnuPG homedir'}`, {
      cause: err, hint: 'check the key ID and --gpg-homedir (gpg --list-secret-keys); keys must not need a passphrase',
    });
  }
  if (out.length === 0) throw new OtError('ERR_INVALID_ARGUMENT', `No secret key ${keyId} in ${homedir ?? 'the default GnuPG homedir'}`);
  const key = await readGpgPrivateKey(new Uint8Array(out));
  if (!key.isDecrypted()) throw new OtError('ERR_UNSUPPORTED', `Secret key ${keyId} is passphrase-protected`, { hint: 'use a signing key without a passphrase' });
  return key;
}

/** An ed25519 secret key: base64 text inline, or a file holding it. */
export async function loadEd25519SigningKey(spec: string): Promise<KeyObject> {
  try {
    return ed25519SecretKey((await readFile(spec, 'utf8')).trim());
  } catch (err: unknown) {
    if (err instanceof OtError) throw err;
    return ed25519SecretKey(spec);
  }
}
