// Generate a static delta FROM→TO (or scratch) in ostree's format
// (static-deltas.md §2–§5, §9): new metadata and content objects go into
// parts as 'S' (splice) ops, large content into fallbacks, parts xz- or un-
// compressed, the TO commit and its detached metadata into the superblock.
// Modified files (same path, new content) become bsdiff patches against the
// old object when that pays (node-bsdiff emits ostree's raw stream).
import { readFile, stat } from 'node:fs/promises';
import { deflateRawSync } from 'node:zlib';
import { OtError } from '../errors.js';
import { Variant, decode, encode, type VardictEntry } from '../gvariant/index.js';
import {
  COMMIT_FORMAT, S_IFLNK, S_IFMT, checksumOf, checksumToBytes, deltaDir, encodeDirmeta, type Checksum, type ObjectType, type Xattr,
} from '../objects/index.js';
import { compressPart, encodePartPayload, encodeSuperblock, writeVarint, type DeltaObject, type PartCompression, type PartHeader, type Fallback } from '../delta/index.js';
import { writeDeltaDir } from './delta-files.js';
import { writeFileAtomic } from './atomic-fs.js';
import type { Repo } from './repo.js';

export interface GenerateOptions {
  from: Checksum | null;
  to: Checksum;
  inline?: boolean;
  /** Content objects larger than this (bytes) become fallbacks. Default 4 MB. */
  minFallbackSize?: number;
  /** Uncompressed payload per part. Default 32 MiB. */
  maxChunkSize?: number;
  compression?: PartCompression;
  /** Seconds since the epoch for the superblock timestamp. */
  now: bigint;
  /** Write a self-contained delta (inline parts) to this file instead of under deltas/ (--filename). */
  filename?: string;
  /** Never bsdiff modified files (--disable-bsdiff). */
  disableBsdiff?: boolean;
  /** Files larger than this are never bsdiffed (bsdiff needs ~9x the old file in memory). Default 128 MB. */
  maxBsdiffSize?: number;
}

export interface GenerateResult { dir: string; parts: number; fallbacks: number; objects: number; bytes: number }

/**
 * Every object reachable from a commit's tree (dirmeta/dirtree/file), and the
 * path → content checksum map (first path wins) used to pair modified files.
 */
async function reachable(repo: Repo, commit: Checksum): Promise<{ objects: Map<string, DeltaObject>; paths: Map<string, Checksum> }> {
  const out = new Map<string, DeltaObject>();
  const paths = new Map<string, Checksum>();
  const c = await repo.loadCommit(commit);
  const add = (type: ObjectType, checksum: Checksum) => out.set(`${type}:${checksum}`, { type, checksum });
  add('dirmeta', c.rootDirmeta);
  const queue: [Checksum, string][] = [[c.rootDirtree, '']];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const [t, prefix] = queue.shift() as [Checksum, string];
    if (seen.has(`${t}:${prefix}`)) continue;
    seen.add(`${t}:${prefix}`);
    add('dirtree', t);
    const dt = await repo.loadDirtree(t);
    for (const f of dt.files) { add('file', f.checksum); paths.set(`${prefix}/${f.name}`, f.checksum); }
    for (const d of dt.dirs) { add('dirmeta', d.dirmeta); queue.push([d.dirtree, `${prefix}/${d.name}`]); }
  }
  return { objects: out, paths };
}

/**
 * A bsdiff patch from `old` to `neu`, or null when it would not pay (judged by
 * fast deflate sizes, a cheap stand-in for the final xz size).
 */
async function tryBsdiff(old: Uint8Array, neu: Uint8Array): Promise<Uint8Array | null> {
  const { native } = await import('node-bsdiff');
  const chunks: Buffer[] = [];
  native.diff(Buffer.from(old.buffer, old.byteOffset, old.byteLength), Buffer.from(neu.buffer, neu.byteOffset, neu.byteLength), (c) => chunks.push(Buffer.from(c)));
  const patch = Buffer.concat(chunks);
  const cost = (b: Uint8Array) => deflateRawSync(b, { level: 1 }).length;
  return cost(patch) < cost(neu) * 0.8 ? new Uint8Array(patch) : null;
}

class PartBuilder {
  modes: { uid: number; gid: number; mode: number }[] = [];
  xattrs: Xattr[][] = [];
  private modeIdx = new Map<string, number>();
  private xattrIdx = new Map<string, number>();
  chunks: Uint8Array[] = [];
  size = 0;
  usize = 0;
  ops: number[] = [];
  objects: DeltaObject[] = [];

  private add(bytes: Uint8Array): number {
    const off = this.size;
    this.chunks.push(bytes);
    this.size += bytes.length;
    return off;
  }

  metadata(obj: DeltaObject, bytes: Uint8Array): void {
    const off = this.add(bytes);
    this.ops.push(0x53);
    writeVarint(this.ops, bytes.length);
    writeVarint(this.ops, off);
    this.objects.push(obj);
    this.usize += bytes.length;
  }

  private indexes(meta: { uid: number; gid: number; mode: number; xattrs: Xattr[] }): [number, number] {
    const mkey = `${meta.uid}:${meta.gid}:${meta.mode}`;
    let mi = this.modeIdx.get(mkey);
    if (mi === undefined) { mi = this.modes.length; this.modes.push({ uid: meta.uid, gid: meta.gid, mode: meta.mode }); this.modeIdx.set(mkey, mi); }
    const xkey = Buffer.from(encodeDirmeta({ uid: 0, gid: 0, mode: 0o40000, xattrs: meta.xattrs })).toString('hex');
    let xi = this.xattrIdx.get(xkey);
    if (xi === undefined) { xi = this.xattrs.length; this.xattrs.push(meta.xattrs); this.xattrIdx.set(xkey, xi); }
    return [mi, xi];
  }

  content(obj: DeltaObject, meta: { uid: number; gid: number; mode: number; xattrs: Xattr[] }, data: Uint8Array): void {
    const [mi, xi] = this.indexes(meta);
    const off = this.add(data);
    this.ops.push(0x53);
    for (const v of [mi, xi, data.length, off]) writeVarint(this.ops, v);
    this.objects.push(obj);
    this.usize += data.length;
  }

  /** A modified file as 'o' + 'r' (old object) + 'B' (bsdiff patch) + 'c', as ostree writes them. */
  patched(obj: DeltaObject, meta: { uid: number; gid: number; mode: number; xattrs: Xattr[] }, size: number, old: Checksum, patch: Uint8Array): void {
    const [mi, xi] = this.indexes(meta);
    const oldOff = this.add(checksumToBytes(old));
    const patchOff = this.add(patch);
    this.ops.push(0x6f);
    for (const v of [mi, xi, size]) writeVarint(this.ops, v);
    this.ops.push(0x72);
    writeVarint(this.ops, oldOff);
    this.ops.push(0x42);
    writeVarint(this.ops, patchOff);
    writeVarint(this.ops, patch.length);
    this.ops.push(0x63);
    this.objects.push(obj);
    this.usize += size;
  }

  payload(): Uint8Array {
    return encodePartPayload({ modes: this.modes, xattrs: this.xattrs, payload: Buffer.concat(this.chunks), ops: Uint8Array.from(this.ops) });
  }
}

/** Generate the delta and write it under deltas/. Replaces an existing delta with the same name. */
export async function generateDelta(repo: Repo, opts: GenerateOptions): Promise<GenerateResult> {
  const minFallback = opts.minFallbackSize ?? 4_000_000;
  const maxChunk = opts.maxChunkSize ?? 32 * 1024 * 1024;
  const compression = opts.compression ?? 'xz';
  const { objects: toObjects, paths: toPaths } = await reachable(repo, opts.to);
  const fromTree = opts.from === null ? null : await reachable(repo, opts.from);
  const fromObjects = fromTree?.objects ?? new Map<string, DeltaObject>();
  const fresh = [...toObjects.values()].filter((o) => !fromObjects.has(`${o.type}:${o.checksum}`));
  // Modified files: a new content object at a path whose old content object is a different one.
  const previous = new Map<Checksum, Checksum>();
  if (fromTree && !opts.disableBsdiff) {
    for (const [path, csum] of toPaths) {
      const old = fromTree.paths.get(path);
      if (old !== undefined && old !== csum && !fromObjects.has(`file:${csum}`) && !previous.has(csum)) previous.set(csum, old);
    }
  }
  const maxBsdiff = opts.maxBsdiffSize ?? 128_000_000;
  fresh.sort((a, b) => (a.type === 'file' ? 1 : 0) - (b.type === 'file' ? 1 : 0));
  const parts: PartBuilder[] = [new PartBuilder()];
  const fallbacks: Fallback[] = [];
  for (const obj of fresh) {
    let cur = parts[parts.length - 1] as PartBuilder;
    if (cur.size >= maxChunk) { cur = new PartBuilder(); parts.push(cur); }
    if (obj.type !== 'file') { cur.metadata(obj, await repo.readMetadata(obj.checksum, obj.type)); continue; }
    const { header, size } = await repo.readContentHeader(obj.checksum);
    if (size > minFallback) {
      const compressed = repo.isArchive ? (await stat(repo.objectPath(obj.checksum, 'file'))).size : size;
      fallbacks.push({ type: 'file', checksum: obj.checksum, compressedSize: BigInt(compressed), size: BigInt(size) });
      continue;
    }
    const isLink = (header.mode & S_IFMT) === S_IFLNK;
    const data = isLink ? new Uint8Array(Buffer.from(header.symlinkTarget, 'utf8')) : (await repo.readContent(obj.checksum)).payload;
    const oldCsum = isLink ? undefined : previous.get(obj.checksum);
    if (oldCsum !== undefined && size <= maxBsdiff) {
      const old = await repo.readContent(oldCsum).catch(() => null);
      const patch = old && (old.header.mode & S_IFMT) !== S_IFLNK && old.payload.length <= maxBsdiff ? await tryBsdiff(old.payload, data) : null;
      if (patch) { cur.patched(obj, header, data.length, oldCsum, patch); continue; }
    }
    cur.content(obj, header, data);
  }
  const dir = deltaDir(opts.from, opts.to, compression === 'zstd' ? 'deltas-zstd' : 'deltas');
  const headers: PartHeader[] = [];
  const inline: VardictEntry[] = [];
  const files: Uint8Array[] = [];
  for (const [i, p] of parts.entries()) {
    const file = await compressPart(p.payload(), compression);
    headers.push({ version: 0, checksum: checksumOf(file), size: BigInt(file.length), usize: BigInt(p.usize), objects: p.objects });
    if (opts.inline || opts.filename) inline.push([`${dir}/${i}`, new Variant('(yay)', [file[0] as number, file.subarray(1)])]);
    else files.push(file);
  }
  const commitBytes = await repo.readMetadata(opts.to, 'commit');
  const metadata: VardictEntry[] = [['ostree.endianness', new Variant('y', 0x6c)], ...inline];
  try {
    const detached = await readFile(repo.objectPath(opts.to, 'commitmeta'));
    metadata.push([`${dir}/commitmeta`, new Variant('a{sv}', decode('a{sv}', new Uint8Array(detached)))]);
  } catch { /* no detached metadata */ }
  const superblock = encodeSuperblock({
    metadata, timestamp: opts.now, from: opts.from, to: opts.to, commit: decode(COMMIT_FORMAT, commitBytes), parts: headers, fallbacks,
  });
  if (checksumOf(encode(COMMIT_FORMAT, decode(COMMIT_FORMAT, commitBytes))) !== opts.to) {
    throw new OtError('ERR_NOT_NORMAL_FORM', `Commit ${opts.to} does not re-serialise to itself; cannot embed it`);
  }
  if (opts.filename) await writeFileAtomic(opts.filename, superblock);
  else await writeDeltaDir(repo, dir, superblock, files.map((f, i) => [i, f] as const));
  const bytes = superblock.length + files.reduce((n, f) => n + f.length, 0);
  return { dir, parts: headers.length, fallbacks: fallbacks.length, objects: fresh.length, bytes };
}
