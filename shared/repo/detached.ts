// Read and write detached metadata: a commit's .commitmeta and summary.sig.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../errors.js';
import type { Vardict } from '../gvariant/index.js';
import type { Checksum } from '../objects/index.js';
import { decodeDetached, encodeDetached } from '../sign/signatures.js';
import { writeFileAtomic } from './atomic-fs.js';
import type { Repo } from './repo.js';
import { Transaction } from './transaction.js';

/** A commit's detached metadata ([] when it has none). */
export async function readCommitDetached(repo: Repo, commit: Checksum): Promise<Vardict> {
  try {
    return decodeDetached(new Uint8Array(await readFile(repo.objectPath(commit, 'commitmeta'))));
  } catch (err: unknown) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

/** Replace a commit's detached metadata (atomically, through a transaction). */
export async function writeCommitDetached(repo: Repo, commit: Checksum, dict: Vardict): Promise<void> {
  const tx = await Transaction.begin(repo);
  try {
    await tx.writeMetadata('commitmeta', encodeDetached(dict), commit);
    await tx.commit();
  } catch (err: unknown) {
    await tx.abort();
    throw err;
  }
}

/** summary.sig's dict ([] when absent). */
export async function readSummarySig(repo: Repo): Promise<Vardict> {
  try {
    return decodeDetached(new Uint8Array(await readFile(join(repo.path, 'summary.sig'))));
  } catch (err: unknown) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

export async function writeSummarySig(repo: Repo, dict: Vardict): Promise<void> {
  await writeFileAtomic(join(repo.path, 'summary.sig'), encodeDetached(dict));
}
