// Mirror extras (ostree pull --mirror, plus what upstream leaves out,
// ostreedev/ostree#1316): after the objects and refs are durable, copy every
// static delta the summary or delta indexes advertise (verified against their
// digests), the delta indexes, and last summary.sig + summary byte for byte,
// so a client of the mirror never sees a summary naming something absent.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError } from '../../shared/errors.js';
import { decode, type Variant } from '../../shared/gvariant/index.js';
import { decodeSuperblock } from '../../shared/delta/index.js';
import {
  ZSTD_DELTAS_SUMMARY_KEY, checksumFromBytes, checksumOf, deltaDir, parseChecksum, toModifiedBase64, type Checksum, type DeltaRoot,
} from '../../shared/objects/index.js';
import { writeDeltaDir, writeFileAtomic, type Repo } from '../../shared/repo/index.js';
import type { Summary } from '../../shared/summary/index.js';
import type { Fetcher } from '../fetch/fetcher.js';
import { MAX_PART_SIZE } from './deltas.js';

export interface MirrorStats { deltasCopied: number; deltasKept: number; indexes: number }

function deltaMap(v: Variant | undefined): Map<string, Checksum> {
  const out = new Map<string, Checksum>();
  if (v?.type !== 'a{sv}') return out;
  for (const [k, d] of v.value as [string, Variant][]) if (d.type === 'ay') out.set(k, checksumFromBytes(d.value as Uint8Array, `digest of delta ${k}`));
  return out;
}

function parseName(name: string): { from: Checksum | null; to: Checksum } {
  const i = name.indexOf('-');
  return i === -1 ? { from: null, to: parseChecksum(name) } : { from: parseChecksum(name.slice(0, i)), to: parseChecksum(name.slice(i + 1)) };
}

async function localDigest(repo: Repo, dir: string): Promise<string | null> {
  try { return checksumOf(new Uint8Array(await readFile(join(repo.path, dir, 'superblock')))); } catch { return null; }
}

/** Copy one delta (superblock + non-inline parts), verified, into place atomically. */
async function copyDelta(repo: Repo, fetcher: Fetcher, dir: string, digest: Checksum): Promise<void> {
  const sbRes = await fetcher.fetchBytes(`${dir}/superblock`, { maxSize: 64 * 1024 * 1024 });
  const sbBytes = sbRes.body ?? new Uint8Array(0);
  if (checksumOf(sbBytes) !== digest) throw new OtError('ERR_CHECKSUM_MISMATCH', `Superblock ${dir} does not match its advertised digest`, { url: fetcher.urlOf(`${dir}/superblock`) });
  const sb = decodeSuperblock(sbBytes);
  const parts: [number, Uint8Array][] = [];
  for (const [i, part] of sb.parts.entries()) {
    if (sb.metadata.some(([k]) => k === `${dir}/${i}`)) continue; // inline
    if (part.size > BigInt(MAX_PART_SIZE)) throw new OtError('ERR_TOO_LARGE', `Delta part ${dir}/${i} is ${part.size} bytes`);
    const res = await fetcher.fetchBytes(`${dir}/${i}`, { maxSize: Number(part.size) });
    const bytes = res.body ?? new Uint8Array(0);
    if (checksumOf(bytes) !== part.checksum) throw new OtError('ERR_CHECKSUM_MISMATCH', `Delta part ${dir}/${i} is corrupt`, { url: fetcher.urlOf(`${dir}/${i}`) });
    parts.push([i, bytes]);
  }
  await writeDeltaDir(repo, dir, sbBytes, parts);
}

/**
 * Copy deltas, delta indexes, summary.sig and summary from the origin.
 * `targets` are the commits the mirror now holds (for their delta indexes).
 */
export async function mirrorExtras(repo: Repo, fetcher: Fetcher, summaryBytes: Uint8Array | null, sigBytes: Uint8Array | null, summary: Summary | null, targets: readonly Checksum[]): Promise<MirrorStats> {
  const stats: MirrorStats = { deltasCopied: 0, deltasKept: 0, indexes: 0 };
  const wanted = new Map<string, { root: DeltaRoot; digest: Checksum }>();
  for (const [n, d] of deltaMap(summary?.metadata.find(([k]) => k === 'ostree.static-deltas')?.[1])) wanted.set(`deltas:${n}`, { root: 'deltas', digest: d });
  for (const [n, d] of deltaMap(summary?.metadata.find(([k]) => k === ZSTD_DELTAS_SUMMARY_KEY)?.[1])) wanted.set(`deltas-zstd:${n}`, { root: 'deltas-zstd', digest: d });
  for (const to of new Set(targets)) {
    const b64 = toModifiedBase64(to);
    const path = `delta-indexes/${b64.slice(0, 2)}/${b64.slice(2)}.index`;
    const res = await fetcher.fetchBytes(path, { maxSize: 10 * 1024 * 1024, optional: true });
    if (res.body === null) continue;
    const index = (decode('a{sv}', res.body) as [string, Variant][]).find(([k]) => k === 'ostree.static-deltas')?.[1];
    for (const [n, d] of deltaMap(index)) if (!wanted.has(`deltas:${n}`)) wanted.set(`deltas:${n}`, { root: 'deltas', digest: d });
    await writeFileAtomic(join(repo.path, path), res.body, { tmpDir: join(repo.path, 'tmp') });
    stats.indexes++;
  }
  for (const [key, { root, digest }] of wanted) {
    const { from, to } = parseName(key.slice(key.indexOf(':') + 1));
    const dir = deltaDir(from, to, root);
    if ((await localDigest(repo, dir)) === digest) { stats.deltasKept++; continue; }
    await copyDelta(repo, fetcher, dir, digest);
    stats.deltasCopied++;
  }
  if (stats.indexes > 0 && !repo.config.getBoolean('core', 'indexed-deltas', false)) {
    repo.config.set('core', 'indexed-deltas', 'true');
    await repo.writeConfig();
  }
  // Last: the signature, then the summary (each atomic), once everything they name is here.
  const tmpDir = join(repo.path, 'tmp');
  if (sigBytes !== null) await writeFileAtomic(join(repo.path, 'summary.sig'), sigBytes, { tmpDir });
  else await rm(join(repo.path, 'summary.sig'), { force: true });
  if (summaryBytes !== null) await writeFileAtomic(join(repo.path, 'summary'), summaryBytes, { tmpDir });
  return stats;
}
