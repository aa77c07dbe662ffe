// Throwaway GnuPG homedirs with generated signing keys, for signing tests.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runOk } from './run.js';

export interface GpgKey { homedir: string; fingerprint: string; publicKeyFile: string }

/** Generate an ed25519 signing key (no passphrase) in a new homedir under `dir`. */
export async function makeGpgKey(dir: string, name: string): Promise<GpgKey> {
  const homedir = join(dir, `gnupg-${name}`);
  mkdirSync(homedir, { mode: 0o700, recursive: true });
  const env = { GNUPGHOME: homedir };
  await runOk('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', `${name} <${name}@example.com>`, 'ed25519', 'sign', '0'], { env });
  const colons = await runOk('gpg', ['--batch', '--with-colons', '--list-keys'], { env });
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)?.[1] as string;
  const publicKeyFile = join(dir, `${name}.asc`);
  await runOk('sh', ['-c', `gpg --batch --armor --export ${fingerprint} > ${publicKeyFile}`], { env });
  return { homedir, fingerprint, publicKeyFile };
}
