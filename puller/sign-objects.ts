// Add signatures to a commit (its .commitmeta) or to the summary
// (summary.sig), appending to what is there, as ostree gpg-sign / sign do.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Checksum } from '../shared/objects/index.js';
import { readCommitDetached, readSummarySig, writeCommitDetached, writeSummarySig, type Repo } from '../shared/repo/index.js';
import { ED25519_KEY, GPG_KEY, ed25519Sign, encodeDetached, gpgSign, withSignatures } from '../shared/sign/index.js';
import type { Vardict } from '../shared/gvariant/index.js';
import { loadEd25519SigningKey, loadGpgSigningKey } from './signing-keys.js';

export interface SignWith {
  /** GPG key IDs (or key files) to sign with. */
  gpgKeyIds?: readonly string[];
  gpgHomedir?: string;
  /** ed25519 secret keys (base64 inline or file paths). */
  ed25519Keys?: readonly string[];
}

/** Whether any key was given. */
export function hasSigningKeys(w: SignWith): boolean {
  return (w.gpgKeyIds?.length ?? 0) + (w.ed25519Keys?.length ?? 0) > 0;
}

async function addSignatures(dict: Vardict, data: Uint8Array, w: SignWith): Promise<Vardict> {
  let out = dict;
  const gpg: Uint8Array[] = [];
  for (const id of w.gpgKeyIds ?? []) gpg.push(await gpgSign(await loadGpgSigningKey(id, w.gpgHomedir), data));
  if (gpg.length > 0) out = withSignatures(out, GPG_KEY, gpg);
  const ed: Uint8Array[] = [];
  for (const k of w.ed25519Keys ?? []) ed.push(ed25519Sign(await loadEd25519SigningKey(k), data));
  if (ed.length > 0) out = withSignatures(out, ED25519_KEY, ed);
  return out;
}

/** A fresh detached-metadata blob with signatures over `data` (for a commit being written). */
export async function detachedSignatures(data: Uint8Array, w: SignWith): Promise<Uint8Array> {
  return encodeDetached(await addSignatures([], data, w));
}

/** Sign commit `csum`: append signatures to its detached metadata. */
export async function signCommit(repo: Repo, csum: Checksum, w: SignWith): Promise<void> {
  const bytes = await repo.readMetadata(csum, 'commit');
  await writeCommitDetached(repo, csum, await addSignatures(await readCommitDetached(repo, csum), bytes, w));
}

/** Sign the current summary: append signatures to summary.sig. */
export async function signSummary(repo: Repo, w: SignWith): Promise<void> {
  const bytes = new Uint8Array(await readFile(join(repo.path, 'summary')));
  await writeSummarySig(repo, await addSignatures(await readSummarySig(repo), bytes, w));
}
