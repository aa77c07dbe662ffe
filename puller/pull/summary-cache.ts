// The client-side cache of a remote's summary in tmp/cache/summaries/REMOTE,
// with the HTTP ETag in the user.etag xattr as ostree keeps it, so the next
// pull can send If-None-Match and reuse the cached copy on a 304.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/repo/index.js';
import type { Repo } from '../../shared/repo/index.js';
import { readXattr, writeXattr } from '../../shared/repo/xattr-io.js';

function cachePath(repo: Repo, remote: string): string {
  return join(repo.path, 'tmp', 'cache', 'summaries', remote);
}

export async function readCachedSummary(repo: Repo, remote: string): Promise<{ bytes: Uint8Array; etag: string } | null> {
  const p = cachePath(repo, remote);
  try {
    const etag = await readXattr(p, 'user.etag');
    if (etag === undefined) return null;
    return { bytes: new Uint8Array(await readFile(p)), etag: Buffer.from(etag).toString('utf8') };
  } catch {
    return null;
  }
}

export async function writeCachedSummary(repo: Repo, remote: string, bytes: Uint8Array, etag: string | undefined): Promise<void> {
  if (etag === undefined) return;
  const p = cachePath(repo, remote);
  await mkdir(join(repo.path, 'tmp', 'cache', 'summaries'), { recursive: true });
  await writeFileAtomic(p, bytes);
  try { await writeXattr(p, 'user.etag', Buffer.from(etag, 'utf8')); } catch { /* no xattrs here: no caching */ }
}
