// Static deltas in a pull (static-deltas.md §6): find a FROM→TO (or scratch)
// delta through the summary or the delta index, check the superblock digest,
// verify the embedded commit like any other, then run each part whose objects
// are not all present — every object it writes is checksummed. A part that is
// missing or bad is abandoned and the pull falls back to object fetches
// (upstream fails there, ostreedev/ostree#1612).
import { trace } from '../../shared/trace.js';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError } from '../../shared/errors.js';
import { decode, encode, type Variant, type Vardict } from '../../shared/gvariant/index.js';
import {
  ZSTD_DELTAS_SUMMARY_KEY, checksumFromBytes, checksumOf, deltaDir, deltaName, decodeCommit, type Checksum, type Commit,
} from '../../shared/objects/index.js';
import {
  decodePartPayload, decodeSuperblock, decompressPart, executePart, superblockCommitBytes, type DeltaObject, type PartPayload, type Superblock,
} from '../../shared/delta/index.js';
import { Limiter } from '../../shared/repo/limiter.js';
import { DELTA_PART_TMP_PREFIX } from '../../shared/repo/adopt-staging.js';
import { faultPoint, nativePartExecutor, transactionSink, type Transaction } from '../../shared/repo/index.js';
import type { Summary } from '../../shared/summary/index.js';
import type { Fetcher } from '../fetch/fetcher.js';

export const MAX_PART_SIZE = 64 * 1024 * 1024;
/** A part's uncompressed payload may not exceed this (parts are generated ≤ 32 MB). */
export const MAX_PART_PAYLOAD = 256 * 1024 * 1024;

export interface DeltaChoice { name: string; dir: string; from: Checksum | null; to: Checksum; digest: Checksum | null }

function digestsOf(dict: Vardict | undefined): Map<string, Checksum> {
  const out = new Map<string, Checksum>();
  for (const [k, v] of dict ?? []) if (v.type === 'ay') out.set(k, checksumFromBytes(v.value as Uint8Array, `digest of delta ${k}`));
  return out;
}

/** Look for a delta to `to` (from `from`, or scratch when null) in the summary, then in the delta index. */
export async function findDelta(fetcher: Fetcher, summary: Summary | null, from: Checksum | null, to: Checksum, maxMeta: number): Promise<DeltaChoice | null> {
  const name = deltaName(from, to);
  // Prefer our zstd variant when the server advertises one (stock clients never see it).
  const zstd = summary?.metadata.find(([k]) => k === ZSTD_DELTAS_SUMMARY_KEY)?.[1];
  const zstdDigests = digestsOf(zstd?.type === 'a{sv}' ? (zstd.value as [string, Variant][]).map(([k, v]) => [k, v] as const) : undefined);
  if (zstdDigests.has(name)) return { name, dir: deltaDir(from, to, 'deltas-zstd'), from, to, digest: zstdDigests.get(name) ?? null };
  const dir = deltaDir(from, to);
  const fromSummary = summary?.metadata.find(([k]) => k === 'ostree.static-deltas')?.[1];
  const inSummary = digestsOf(fromSummary?.type === 'a{sv}' ? (fromSummary.value as [string, Variant][]).map(([k, v]) => [k, v] as const) : undefined);
  if (inSummary.has(name)) return { name, dir, from, to, digest: inSummary.get(name) ?? null };
  const mb64 = dir.slice(dir.lastIndexOf('/') - 2).replace('/', '');
  const toB64 = from === null ? mb64 : dir.slice(dir.lastIndexOf('-') + 1);
  const res = await fetcher.fetchBytes(`delta-indexes/${toB64.slice(0, 2)}/${toB64.slice(2)}.index`, { maxSize: maxMeta, optional: true });
  if (res.body === null) return null;
  const index = (decode('a{sv}', res.body) as [string, Variant][]).find(([k]) => k === 'ostree.static-deltas')?.[1];
  const inner = index?.type === 'a{sv}' ? (index.value as [string, Variant][]) : null;
  const digests = digestsOf(inner?.map(([k, v]) => [k, v] as const));
  return digests.has(name) ? { name, dir, from, to, digest: digests.get(name) ?? null } : null;
}

export interface FetchedSuperblock { sb: Superblock; commitBytes: Uint8Array; commit: Commit; detached: Uint8Array | null }

/** Fetch and check a superblock and the commit it embeds. */
export async function fetchSuperblock(fetcher: Fetcher, choice: DeltaChoice, maxMeta: number): Promise<FetchedSuperblock> {
  const path = `${choice.dir}/superblock`;
  const res = await fetcher.fetchBytes(path, { maxSize: maxMeta });
  const bytes = res.body ?? new Uint8Array(0);
  const actual = checksumOf(bytes);
  if (choice.digest !== null && actual !== choice.digest) {
    throw new OtError('ERR_CHECKSUM_MISMATCH', `Invalid checksum for static delta superblock ${choice.name}: expected ${choice.digest}, got ${actual}`, { url: fetcher.urlOf(path) });
  }
  const sb = decodeSuperblock(bytes);
  if (sb.to !== choice.to || sb.from !== choice.from) throw new OtError('ERR_BAD_FORMAT', `Superblock of ${choice.name} names ${sb.from ?? ''}-${sb.to}`);
  const commitBytes = superblockCommitBytes(sb);
  const got = checksumOf(commitBytes);
  if (got !== choice.to) throw new OtError('ERR_CHECKSUM_MISMATCH', `Delta ${choice.name} embeds commit ${got}, not ${choice.to}`);
  const meta = sb.metadata.find(([k]) => k === `${choice.dir}/commitmeta`)?.[1];
  // The TO commit's detached metadata as it was at generation time (normal form, so re-encoding gives its bytes).
  const detached = meta?.type === 'a{sv}' ? encode('a{sv}', meta.value) : null;
  return { sb, commitBytes, commit: decodeCommit(commitBytes), detached };
}

export interface PartRunner {
  tx: Transaction;
  fetcher: Fetcher;
  onPartFetched?: (bytes: number) => void;
}

/**
 * Run the parts of a delta whose objects are not all present. Returns the
 * number of objects written and the parts that could not be applied (their
 * objects are left to the ordinary object walk).
 */
export async function applyParts(r: PartRunner, choice: DeltaChoice, sb: Superblock): Promise<{ written: number; failed: number[] }> {
  let written = 0;
  const failed: number[] = [];
  const sink = transactionSink(r.tx);
  const todo = [...sb.parts.entries()].filter(([, part]) => !part.objects.every((o) => sink.has(o)));
  // bare-user repos run each part natively in the thread pool, two at a time;
  // others through execute.ts, one at a time (it keeps its own writes in flight).
  const native = nativePartExecutor(r.tx, MAX_PART_PAYLOAD);
  const execute = native ?? ((payload: PartPayload, objects: readonly DeltaObject[]) => executePart(payload, objects, sink, { maxObjectSize: MAX_PART_PAYLOAD }));
  const executing = new Limiter(native === null ? 1 : 2);
  // Parts are fetched, verified and decompressed ahead (PARTS_AHEAD beyond those
  // executing) while others write their objects: network, decompression and disk overlap.
  const loading = new Limiter(PARTS_AHEAD + (native === null ? 1 : 2));
  // Two downloads at a time: the first parts arrive (and start executing) sooner than if all shared the link.
  const downloading = new Limiter(2);
  let fatal: unknown = null;
  await Promise.all(todo.map(([i, part]) => loading.run(async () => {
    const loaded = await settle(downloading.run(() => partFile(r, choice, sb, i, part.size, part.checksum))
      .then(async (file) => decodePartPayload(await decompressPart(file, MAX_PART_PAYLOAD))));
    await executing.run(async () => {
      try {
        if (fatal !== null) return;
        if (!loaded.ok) throw loaded.error;
        trace(`delta: part ${i} loaded`);
        written += await execute(loaded.value, part.objects);
        trace(`delta: part ${i} executed`);
        faultPoint(`delta-after-part-${i}`);
        await rm(partDownloadPath(r, part.checksum), { force: true });
      } catch (err: unknown) {
        // A verified part that does not apply is useless; a failed download stays for the next attempt to resume.
        if (loaded.ok) await rm(partDownloadPath(r, part.checksum), { force: true });
        if (err instanceof OtError && (err.code === 'ERR_SIGNATURE_INVALID' || err.code === 'ERR_IO')) fatal ??= err;
        failed.push(i);
      }
    });
  })));
  if (fatal !== null) throw fatal;
  return { written, failed: failed.sort((a, b) => a - b) };
}

/** Parts loaded ahead of those being applied. */
const PARTS_AHEAD = 2;

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
/** A promise that never rejects (so a part loaded ahead cannot become an unhandled rejection). */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
}

async function partFile(r: PartRunner, choice: DeltaChoice, sb: Superblock, i: number, size: bigint, csum: Checksum): Promise<Uint8Array> {
  const inline = sb.metadata.find(([k]) => k === `${choice.dir}/${i}`)?.[1];
  if (inline !== undefined) {
    const [c, data] = inline.value as [number, Uint8Array];
    const out = new Uint8Array(data.length + 1);
    out[0] = c;
    out.set(data, 1);
    return out;
  }
  if (size > BigInt(MAX_PART_SIZE)) throw new OtError('ERR_TOO_LARGE', `Delta part ${i} of ${choice.name} is ${size} bytes`);
  const path = `${choice.dir}/${i}`;
  // Downloaded into the repo's tmp/ under the part's checksum, so an interrupted
  // pull resumes the part with a Range request instead of starting it over.
  const dest = partDownloadPath(r, csum);
  const got = await r.fetcher.fetchResumable(path, dest, { expectedSize: Number(size) });
  r.onPartFetched?.(got.size - got.resumedFrom);
  const bytes = got.bytes;
  const actual = checksumOf(bytes);
  if (actual !== csum) {
    await rm(dest, { force: true });
    throw new OtError('ERR_CHECKSUM_MISMATCH', `Corrupted delta part ${i} of ${choice.name}: expected ${csum}, got ${actual}`, { url: r.fetcher.urlOf(path) });
  }
  return bytes;
}

/** Where a part is downloaded (and kept until it has been applied). */
function partDownloadPath(r: PartRunner, csum: Checksum): string {
  return join(r.tx.repo.path, 'tmp', `${DELTA_PART_TMP_PREFIX}${csum}`);
}
