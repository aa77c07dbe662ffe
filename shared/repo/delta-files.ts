// Publish a delta directory atomically: write superblock and parts into a
// staging dir under tmp/, sync, then swap it in place of any older copy, so
// readers see the old delta or the complete new one, never a mix.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncDir, syncFilesystem, tmpName } from './atomic-fs.js';
import type { Repo } from './repo.js';

/** Write `dir` (repo-relative, e.g. deltas/XX/REST) with its superblock and numbered parts. */
export async function writeDeltaDir(repo: Repo, dir: string, superblock: Uint8Array, parts: readonly (readonly [number, Uint8Array])[]): Promise<void> {
  const staging = join(repo.path, 'tmp', tmpName('delta'));
  await mkdir(staging, { recursive: true });
  try {
    for (const [i, bytes] of parts) await writeFile(join(staging, String(i)), bytes);
    await writeFile(join(staging, 'superblock'), superblock);
    await syncFilesystem(staging);
    const final = join(repo.path, dir);
    await mkdir(dirname(final), { recursive: true });
    await rm(final, { recursive: true, force: true });
    await rename(staging, final);
    await fsyncDir(dirname(final));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
