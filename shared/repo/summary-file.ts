// Regenerate a repository's `summary` as `ostree summary -u` does: refs from
// refs/heads, static deltas found under deltas/, repo metadata; written
// atomically, and the now-stale summary.sig removed (summary.md §3).
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../errors.js';
import { Variant, encode, vardictGet, type VardictEntry } from '../gvariant/index.js';
import { bswap64, checksumOf, checksumToBytes, decodeCommit, fromModifiedBase64, deltaName, toModifiedBase64, ZSTD_DELTAS_SUMMARY_KEY, type Checksum, type DeltaRoot } from '../objects/index.js';
import { encodeSummary, inDictOrder, summaryRefMetadata, type SummaryRef } from '../summary/index.js';
import { writeFileAtomic } from './atomic-fs.js';
import type { Repo } from './repo.js';
import { repoModeConfigName } from './repo-mode.js';

/** A static delta present in the repo: its name and the SHA-256 of its superblock. */
export interface DeltaEntry { from: Checksum | null; to: Checksum; superblockChecksum: Checksum }

/** List the static deltas under deltas/ (both layouts: XX/REST and XX/REST-TO). */
export async function listDeltas(repo: Repo, which: DeltaRoot = 'deltas'): Promise<DeltaEntry[]> {
  const out: DeltaEntry[] = [];
  const root = join(repo.path, which);
  let prefixes: string[] = [];
  try { prefixes = await readdir(root); } catch (err: unknown) { if (!isErrno(err, 'ENOENT')) throw err; }
  for (const p of prefixes.sort()) {
    for (const rest of (await readdir(join(root, p))).sort()) {
      const [a, b] = rest.split('-');
      let from: Checksum | null;
      let to: Checksum;
      try {
        from = b === undefined ? null : fromModifiedBase64(p + (a ?? ''));
        to = b === undefined ? fromModifiedBase64(p + (a ?? '')) : fromModifiedBase64(b);
      } catch { continue; }
      let sb: Uint8Array;
      try { sb = await readFile(join(root, p, rest, 'superblock')); } catch { continue; }
      out.push({ from, to, superblockChecksum: checksumOf(sb) });
    }
  }
  return out;
}

/**
 * Write delta-indexes/XX/REST.index for every delta target: an a{sv} with
 * `ostree.static-deltas` → {name: superblock digest} (static-deltas.md §7).
 */
export async function writeDeltaIndexes(repo: Repo, deltas: readonly DeltaEntry[]): Promise<void> {
  const byTo = new Map<Checksum, DeltaEntry[]>();
  for (const d of deltas) byTo.set(d.to, [...(byTo.get(d.to) ?? []), d]);
  for (const [to, list] of byTo) {
    const inner = new Variant('a{sv}', list.map((d) => [deltaName(d.from, d.to), new Variant('ay', checksumToBytes(d.superblockChecksum))]));
    const b64 = toModifiedBase64(to);
    await writeFileAtomic(join(repo.path, 'delta-indexes', b64.slice(0, 2), `${b64.slice(2)}.index`), encode('a{sv}', [['ostree.static-deltas', inner]]));
  }
}

export interface SummaryUpdateOptions {
  /** Unix seconds for ostree.summary.last-modified. */
  now: bigint;
  /** Extra keys (`summary --add-metadata`). */
  extraMetadata?: readonly VardictEntry[];
}

/** Rebuild `summary`; returns its bytes. */
export async function updateSummary(repo: Repo, opts: SummaryUpdateOptions): Promise<Uint8Array> {
  const refs: SummaryRef[] = [];
  for (const r of await repo.listRefs()) {
    if (r.remote !== null) continue;
    const bytes = await repo.readMetadata(r.checksum, 'commit');
    const commit = decodeCommit(bytes);
    const version = vardictGet(commit.metadata, 'version');
    refs.push({
      name: r.name, commitSize: BigInt(bytes.length), checksum: r.checksum,
      metadata: summaryRefMetadata(commit.timestamp, version?.type === 's' ? (version.value as string) : undefined),
    });
  }
  const entries: VardictEntry[] = [...(opts.extraMetadata ?? [])];
  const deltas = await listDeltas(repo);
  if (deltas.length > 0 && !repo.config.getBoolean('core', 'no-deltas-in-summary', false)) {
    entries.push(['ostree.static-deltas', new Variant('a{sv}', deltas.map((d) => [deltaName(d.from, d.to), new Variant('ay', checksumToBytes(d.superblockChecksum))]))]);
  }
  const zstd = await listDeltas(repo, 'deltas-zstd');
  if (zstd.length > 0) {
    entries.push([ZSTD_DELTAS_SUMMARY_KEY, new Variant('a{sv}', zstd.map((d) => [deltaName(d.from, d.to), new Variant('ay', checksumToBytes(d.superblockChecksum))]))]);
  }
  entries.push(['ostree.summary.last-modified', new Variant('t', bswap64(opts.now))]);
  entries.push(['ostree.summary.mode', new Variant('s', repoModeConfigName(repo.mode))]);
  entries.push(['ostree.summary.tombstone-commits', new Variant('b', repo.config.getBoolean('core', 'tombstone-commits', false))]);
  entries.push(['ostree.summary.indexed-deltas', new Variant('b', true)]);
  const collectionId = repo.config.get('core', 'collection-id');
  if (collectionId) entries.push(['ostree.summary.collection-id', new Variant('s', collectionId)]);
  const bytes = encodeSummary({ refs, metadata: inDictOrder(entries) });
  if (!repo.config.getBoolean('core', 'indexed-deltas', false)) {
    repo.config.set('core', 'indexed-deltas', 'true');
    await repo.writeConfig();
  }
  await writeDeltaIndexes(repo, deltas);
  await writeFileAtomic(join(repo.path, 'summary'), bytes);
  await rm(join(repo.path, 'summary.sig'), { force: true });
  return bytes;
}
