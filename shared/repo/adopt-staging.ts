// Resume after a crash: objects staged by a transaction whose process died
// (SIGKILL, power loss) are re-verified — checksum and structure, exactly as
// if they had just been downloaded — and moved into the new transaction;
// anything that does not verify is deleted. ostree reuses its staging dirs
// the same way (per boot id); we key on the owner's pid instead.
import { randomBytes } from 'node:crypto';
import { lstat, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../errors.js';
import {
  checksumOf, decodeArchiveHeader, decodeCommit, decodeDirmeta, decodeDirtree, decodeFileMeta, encodeFileHeader,
  isChecksum, objectTypeFromExtension, S_IFLNK, S_IFMT, type Checksum, type ObjectType,
} from '../objects/index.js';
import { inflatePayload } from './deflate.js';
import type { Repo } from './repo.js';
import { OSTREEMETA_XATTR, readXattr } from './xattr-io.js';

/** Name of a new staging dir: the owner's pid is part of it, so no crash can leave it ownerless. */
export function stagingDirName(): string {
  return `staging-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: unknown) {
    return !isErrno(err, 'ESRCH');
  }
}

/** Staging dirs left by dead processes. */
export async function orphanedStagingDirs(repo: Repo, exclude: string): Promise<string[]> {
  const out: string[] = [];
  let names: string[] = [];
  try { names = await readdir(join(repo.path, 'tmp')); } catch { return out; }
  for (const n of names.filter((x) => x.startsWith('staging-'))) {
    const dir = join(repo.path, 'tmp', n);
    if (dir === exclude) continue;
    const pid = Number(/^staging-(\d+)-/.exec(n)?.[1] ?? 0);
    if (pid > 0 && !alive(pid)) out.push(dir);
  }
  return out;
}

/** Prefix of delta parts being downloaded (kept across runs for Range resume). */
export const DELTA_PART_TMP_PREFIX = 'ots-delta-part-';

/**
 * Remove delta part downloads untouched for core.tmp-expiry-secs (default one
 * day, as ostree expires its tmp/ entries): an abandoned pull's partial parts
 * do not stay forever, a recent one is still resumed.
 */
export async function expireTmpDownloads(repo: Repo, now = Date.now()): Promise<number> {
  const expirySecs = Number(repo.config.get('core', 'tmp-expiry-secs') ?? '86400');
  let names: string[] = [];
  try { names = await readdir(join(repo.path, 'tmp')); } catch { return 0; }
  let n = 0;
  for (const name of names.filter((x) => x.startsWith(DELTA_PART_TMP_PREFIX))) {
    const path = join(repo.path, 'tmp', name);
    try {
      if (now - (await lstat(path)).mtimeMs < expirySecs * 1000) continue;
      await rm(path, { force: true });
      n++;
    } catch (err: unknown) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
  return n;
}

/** Whether the staged file at `path` really is object `csum` of `type` for this repo's mode. */
export async function verifyStagedObject(repo: Repo, path: string, csum: Checksum, type: ObjectType): Promise<boolean> {
  try {
    if (type === 'commitmeta' || type === 'tombstone-commit') return false; // not content-addressed: refetch instead
    if (type !== 'file') {
      const bytes = new Uint8Array(await readFile(path));
      if (checksumOf(bytes) !== csum) return false;
      if (type === 'commit') decodeCommit(bytes);
      else if (type === 'dirtree') decodeDirtree(bytes);
      else decodeDirmeta(bytes);
      return true;
    }
    if (repo.mode === 'archive') {
      const bytes = new Uint8Array(await readFile(path));
      const { header, size, payloadOffset } = decodeArchiveHeader(bytes);
      const payload = await inflatePayload(bytes.subarray(payloadOffset), size ?? 0n);
      return checksumOf(encodeFileHeader(header), payload) === csum;
    }
    if (repo.mode === 'bare-user') {
      const raw = await readXattr(path, OSTREEMETA_XATTR);
      if (raw === undefined) return false;
      const meta = decodeFileMeta(raw);
      const body = new Uint8Array(await readFile(path));
      if ((meta.mode & S_IFMT) === S_IFLNK) {
        const target = Buffer.from(body.subarray(0, body.length - 1)).toString('utf8');
        return checksumOf(encodeFileHeader({ ...meta, symlinkTarget: target }), new Uint8Array(0)) === csum;
      }
      return checksumOf(encodeFileHeader({ ...meta, symlinkTarget: '' }), body) === csum;
    }
    return false; // bare / bare-user-only: ownership and links are not re-verifiable cheaply; refetch
  } catch {
    return false;
  }
}

/** Enumerate the objects in a staging dir: [relative path inside it, checksum, type]. */
export async function stagedObjects(dir: string): Promise<[string, Checksum, ObjectType][]> {
  const out: [string, Checksum, ObjectType][] = [];
  for (const p of await readdir(dir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{2}$/.test(p)) continue;
    for (const f of await readdir(join(dir, p)).catch(() => [] as string[])) {
      const dot = f.indexOf('.');
      const csum = p + f.slice(0, dot);
      const type = objectTypeFromExtension(f.slice(dot));
      if (dot > 0 && isChecksum(csum) && type !== undefined) out.push([`${p}/${f}`, csum, type]);
    }
  }
  return out;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
