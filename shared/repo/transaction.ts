// A write transaction: objects are staged under tmp/staging-*, made durable
// with one filesystem sync, renamed into objects/, synced again, and only then
// do refs move (ostree_repo_commit_transaction). A crash at any point leaves
// objects/ holding only complete objects and every ref at its old or new value.
import { trace } from '../trace.js';
import { close as fsClose, existsSync, fchmod as fsFchmod, mkdirSync, open as fsOpen, readFileSync, readdirSync, renameSync, rmSync, write as fsWrite } from 'node:fs';
import { promisify } from 'node:util';
import { chmod, chown, lchown, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError, isErrno } from '../errors.js';
import {
  S_IFLNK, S_IFMT, checksumOf, decodeArchiveHeader, encodeArchiveHeader, encodeDirmeta, encodeFileHeader, loosePath, type Checksum,
  type FileHeader, type ObjectType,
} from '../objects/index.js';
import { faultPoint, syncFilesystem } from './atomic-fs.js';
import { lockRepo, type RepoLock } from './lock.js';
import { nativeSys, nativeSystemError, type NativeWriteOptions } from '../native/sys.js';
import { constants as osConstants } from 'node:os';
import { deflatePayload, inflatePayload } from './deflate.js';
import type { Repo } from './repo.js';
import { OSTREEMETA_XATTR, writeSymlinkXattrsSync, writeXattr } from './xattr-io.js';
import { expireTmpDownloads, orphanedStagingDirs, removeDir, stagedObjects, stagingDirName, verifyStagedObject } from './adopt-staging.js';

/** A ref update applied when the transaction commits. */
export interface RefUpdate { name: string; checksum: Checksum | null; remote?: string | null }

/** renameObjects' verdict where the filesystem lacks RENAME_NOREPLACE. */
const EINVAL_ERRNO = osConstants.errno.EINVAL;

export class Transaction {
  /** Repo-relative paths of objects staged in this transaction. */
  private readonly staged = new Set<string>();
  /** Names in each objects/XX directory of the repo, listed on first use (see inRepo). */
  private readonly listed = new Map<string, Set<string>>();
  /** Staged objects that replace the repo's copy (detached metadata); others never do. */
  private readonly replacing = new Set<string>();
  /** In-flight writes by repo-relative path, so one object is written once. */
  private readonly writing = new Map<string, Promise<void>>();
  private readonly madeDirs = new Set<string>();
  private done = false;
  /** flushEarly in progress, and the last one started (commit awaits it: its failure fails the commit). */
  private flushing: Promise<void> | null = null;
  private lastFlush: Promise<void> = Promise.resolve();

  private constructor(readonly repo: Repo, readonly stagingDir: string, private readonly lock: RepoLock) {}

  /**
   * Start a transaction on `repo` (creates its staging directory). Holds the
   * repository lock, shared, until commit or abort: a prune (ostree's or ours)
   * waits for it.
   */
  static async begin(repo: Repo, opts: { adoptOrphans?: boolean } = {}): Promise<Transaction> {
    const lock = await lockRepo(repo, 'shared');
    const dir = join(repo.path, 'tmp', stagingDirName());
    try {
      await mkdir(dir, { recursive: true });
    } catch (err: unknown) {
      lock.release();
      throw err;
    }
    const tx = new Transaction(repo, dir, lock);
    try {
      if (opts.adoptOrphans) await tx.adoptOrphans();
      else for (const old of await orphanedStagingDirs(repo, dir)) await removeDir(old); // reclaim space of dead transactions
      await expireTmpDownloads(repo);
    } catch (err: unknown) {
      await tx.abort();
      throw err;
    }
    return tx;
  }

  /** Objects adopted from dead transactions (resume after a crash). */
  adopted = 0;

  /**
   * Take over the verified objects of staging dirs whose process died, so an
   * interrupted pull resumes instead of downloading them again.
   */
  private async adoptOrphans(): Promise<void> {
    for (const old of await orphanedStagingDirs(this.repo, this.stagingDir)) {
      for (const [rel, csum, type] of await stagedObjects(old)) {
        const target = loosePath(csum, type, this.repo.isArchive);
        if (this.staged.has(target) || this.inRepo(target)) continue;
        if (!(await verifyStagedObject(this.repo, join(old, rel), csum, type))) continue;
        const dir = join(this.stagingDir, target.slice(8, 10));
        if (!this.madeDirs.has(dir)) { mkdirSync(dir, { recursive: true }); this.madeDirs.add(dir); }
        renameSync(join(old, rel), this.stagedPath(target));
        this.staged.add(target);
        this.adopted++;
      }
      await removeDir(old);
    }
  }

  /** Objects staged and not yet moved into objects/ (see flushEarly). */
  get stagedCount(): number {
    return this.staged.size;
  }

  /** Whether the object is in the repo or already staged here. */
  async hasObject(csum: Checksum, type: ObjectType): Promise<boolean> {
    return this.staged.has(loosePath(csum, type, this.repo.isArchive)) || (await this.repo.hasObject(csum, type));
  }

  /**
   * Store a metadata object. When `expected` is given the bytes must hash to
   * it (ERR_CHECKSUM_MISMATCH, nothing stored). commitmeta is stored under its
   * commit's checksum and replaces any previous one.
   */
  async writeMetadata(type: ObjectType, bytes: Uint8Array, expected?: Checksum): Promise<Checksum> {
    let csum: Checksum;
    if (type === 'commitmeta' || type === 'tombstone-commit') {
      if (expected === undefined) throw new OtError('ERR_INVALID_ARGUMENT', `${type} needs the commit checksum`);
      csum = expected;
    } else {
      csum = checksumOf(bytes);
      if (expected !== undefined && csum !== expected) {
        throw new OtError('ERR_CHECKSUM_MISMATCH', `Corrupted ${type} object; checksum expected='${expected}' actual='${csum}'`, {
          checksum: expected, objectType: type, expected, found: csum,
        });
      }
    }
    const replace = type === 'commitmeta';
    await this.stage(csum, type, replace, (path) => writeNew(path, [bytes], 0o644));
    return csum;
  }

  /**
   * Store a content object from its header and whole payload. When `expected`
   * is given the canonical stream must hash to it. Returns the checksum.
   */
  async writeContent(header: FileHeader, payload: Uint8Array, expected?: Checksum): Promise<Checksum> {
    const mismatch = (found: string) => new OtError('ERR_CHECKSUM_MISMATCH', `Corrupted file object; checksum expected='${expected ?? ''}' actual='${found}'`, {
      checksum: expected, objectType: 'file', expected, found,
    });
    const native = expected === undefined ? null : nativeSys();
    const layout = native === null ? null : this.nativeLayout(header);
    if (native !== null && layout !== null && expected !== undefined) {
      // Hashed in the thread-pool job that writes it (a delta pull writes ~80 MB this way).
      const headerBytes = encodeFileHeader(header);
      const isLink = (header.mode & S_IFMT) === S_IFLNK;
      const chunks = layout.body === null ? undefined : [layout.body];
      try {
        await this.stage(expected, 'file', false, (path) => native.writeVerified(path, headerBytes, isLink ? new Uint8Array(0) : payload, expected, { ...layout.opts, chunks }));
      } catch (err: unknown) {
        if ((err as { code?: unknown }).code === 'ERR_CHECKSUM_MISMATCH') throw mismatch(String((err as { actual?: unknown }).actual));
        throw err;
      }
      return expected;
    }
    const csum = checksumOf(encodeFileHeader(header), payload);
    if (expected !== undefined && csum !== expected) throw mismatch(csum);
    await this.writeContentAs(csum, header, payload);
    return csum;
  }

  /** Store a content object whose checksum the caller has computed over the canonical stream. */
  async writeContentAs(csum: Checksum, header: FileHeader, payload: Uint8Array): Promise<void> {
    await this.stage(csum, 'file', false, (path) => this.writeContentFile(path, header, payload));
  }

  /**
   * Record an object that native code created in the staging directory
   * (native/delta_exec.c), verified against `csum`: commit moves it like the others.
   */
  markStaged(csum: Checksum, type: ObjectType): void {
    this.staged.add(loosePath(csum, type, this.repo.isArchive));
  }

  /** Synchronous hasObject (staged here, or in the repo). */
  hasObjectSync(csum: Checksum, type: ObjectType): boolean {
    const rel = loosePath(csum, type, this.repo.isArchive);
    return this.staged.has(rel) || this.inRepo(rel);
  }

  /**
   * Whether the repo holds the loose object at `rel` (objects/XX/REST.EXT),
   * from one readdir per XX directory, made on first use and kept for the
   * transaction: a pull asks for thousands of objects, and a readdir of a
   * directory costs about as much as one lstat. Safe while the transaction
   * holds the repo lock shared: prune (exclusive) cannot remove objects
   * meanwhile; others may only add some, which at worst are fetched again.
   */
  private inRepo(rel: string): boolean {
    const prefix = rel.slice(8, 10);
    let names = this.listed.get(prefix);
    if (names === undefined) {
      try {
        names = new Set(readdirSync(join(this.repo.path, 'objects', prefix)));
      } catch (err: unknown) {
        if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
        names = new Set();
      }
      this.listed.set(prefix, names);
    }
    return names.has(rel.slice(11));
  }

  /** The payload of a regular-file content object staged here or in the repo (a delta's read source). */
  async readContentPayload(csum: Checksum): Promise<Uint8Array> {
    const rel = loosePath(csum, 'file', this.repo.isArchive);
    const native = this.repo.isArchive ? null : nativeSys();
    if (native !== null) {
      // One thread-pool job instead of lstat, getxattr, open, fstat, read and close (a delta
      // pull reads ~500 sources). Whatever it refuses (missing, a symlink of a bare repo)
      // goes the long way below, which reports it as it always did.
      try {
        return await native.readRegular(this.staged.has(rel) ? this.stagedPath(rel) : join(this.repo.path, rel), Number.MAX_SAFE_INTEGER);
      } catch {
        // fall through (also when a flushEarly moved it meanwhile: the long way looks in objects/ too)
      }
    }
    const staged = this.staged.has(rel)
      ? await readFile(this.stagedPath(rel)).then((b) => new Uint8Array(b), (err: unknown) => {
        if (isErrno(err, 'ENOENT')) return null; // moved into objects/ by a flushEarly meanwhile
        throw err;
      })
      : null;
    if (staged === null) return (await this.repo.readContent(csum)).payload;
    const bytes = staged;
    if (!this.repo.isArchive) return bytes;
    const { size, payloadOffset } = decodeArchiveHeader(bytes);
    return inflatePayload(bytes.subarray(payloadOffset), size ?? 0n);
  }

  /** Bytes of a metadata object staged in this transaction (or already in the repo); synchronous: small files, read by the thousand. */
  readStagedSync(csum: Checksum, type: ObjectType): Uint8Array {
    const rel = loosePath(csum, type, this.repo.isArchive);
    try {
      if (this.staged.has(rel)) {
        try {
          return new Uint8Array(readFileSync(this.stagedPath(rel)));
        } catch (err: unknown) {
          if (!isErrno(err, 'ENOENT')) throw err; // ENOENT: moved into objects/ by a flushEarly meanwhile
        }
      }
      return new Uint8Array(readFileSync(join(this.repo.path, rel)));
    } catch (err: unknown) {
      if (isErrno(err, 'ENOENT')) throw new OtError('ERR_OBJECT_NOT_FOUND', `No such metadata object ${csum}.${type}`, { checksum: csum, objectType: type, cause: err });
      throw err;
    }
  }

  /**
   * Archive repos only: store a .filez exactly as received. The caller must
   * already have verified it (header, inflated size, checksum).
   */
  async writeArchiveContentRaw(csum: Checksum, bytes: Uint8Array): Promise<void> {
    if (!this.repo.isArchive) throw new OtError('ERR_INVALID_ARGUMENT', 'writeArchiveContentRaw needs an archive repository');
    await this.stage(csum, 'file', false, (path) => writeNew(path, [bytes], 0o644));
  }

  /**
   * Stage a content object from its archive form (a .filez as served),
   * verified by the native helper in the same thread-pool job that writes it
   * (inflate to the declared size, no trailing data, checksum), so neither
   * inflating nor hashing runs on the main thread. `header` is the decoded
   * archive header, `headerBytes` its canonical encoding (what the checksum
   * covers). Returns false, staging nothing, when the helper is missing or
   * does not write this repo mode; the caller then verifies in JS. Throws the
   * helper's errors (code ERR_CHECKSUM_MISMATCH with `actual`,
   * ERR_SIZE_MISMATCH with `produced`, ERR_BAD_FORMAT).
   */
  async writeArchiveContentVerified(csum: Checksum, filez: Uint8Array, header: FileHeader, headerBytes: Uint8Array, payloadOffset: number, size: number): Promise<boolean> {
    const native = nativeSys();
    if (!native) return false;
    const layout = this.repo.isArchive ? { body: filez, opts: { mode: 0o644 } } : this.nativeLayout(header);
    if (layout === null) return false;
    const chunks = layout.body === null ? undefined : [layout.body];
    await this.stage(csum, 'file', false, (path) => native.inflateVerify(path, headerBytes, filez.subarray(payloadOffset), size, csum, { ...layout.opts, chunks }));
    return true;
  }

  /**
   * How the native helper lays out a content object of this bare repo: the
   * file's bytes (null: the payload) and its mode, xattrs and owner; null when
   * it does not (symlinks of bare repos, bare-user-only). A bare-user symlink
   * is a file holding its target.
   */
  private nativeLayout(header: FileHeader): { body: Uint8Array | null; opts: NativeWriteOptions } | null {
    const isLink = (header.mode & S_IFMT) === S_IFLNK;
    if (this.repo.mode === 'bare-user') {
      return {
        body: isLink ? Buffer.from(`${header.symlinkTarget}\0`, 'utf8') : null,
        opts: { mode: isLink ? 0o644 : (header.mode & 0o775) | 0o400, xattrs: [{ name: OSTREEMETA_XATTR, value: encodeDirmeta(header) }] },
      };
    }
    if (this.repo.mode === 'bare' && !isLink) return { body: null, opts: { mode: header.mode & 0o7777, xattrs: header.xattrs, uid: header.uid, gid: header.gid } };
    return null;
  }

  private async writeContentFile(path: string, header: FileHeader, payload: Uint8Array): Promise<void> {
    const isLink = (header.mode & S_IFMT) === S_IFLNK;
    const native = nativeSys();
    // With the native helper, a regular file (or a bare-user symlink, which is
    // stored as a file) is written, labelled and chmod'ed in one job.
    const layout = native === null ? null : this.nativeLayout(header);
    if (native !== null && layout !== null) {
      await native.writeNew(path, [layout.body ?? payload], layout.opts);
      return;
    }
    switch (this.repo.mode) {
      case 'archive': {
        const compressed = isLink ? new Uint8Array(0) : await deflatePayload(payload);
        const head = encodeArchiveHeader(header, BigInt(payload.length));
        await writeNew(path, [head, compressed], 0o644);
        return;
      }
      case 'bare-user': {
        if (isLink) await writeNew(path, [Buffer.from(`${header.symlinkTarget}\0`, 'utf8')], 0o644);
        else await writeNew(path, [payload], (header.mode & 0o775) | 0o400);
        await writeXattr(path, OSTREEMETA_XATTR, encodeDirmeta(header));
        return;
      }
      case 'bare-user-only': {
        if (isLink) await symlink(header.symlinkTarget, path);
        else await writeNew(path, [payload], header.mode & 0o775);
        return;
      }
      case 'bare': {
        if (isLink) {
          await symlink(header.symlinkTarget, path);
          writeSymlinkXattrsSync(path, header.xattrs);
          await lchown(path, header.uid, header.gid);
          return;
        }
        // Written without setuid bits; the final mode is applied only after
        // the content is complete (ostree's guard against a MITM setuid file).
        await writeNew(path, [payload], 0o600);
        for (const x of header.xattrs) await writeXattr(path, x.name, x.value);
        await chown(path, header.uid, header.gid);
        await chmod(path, header.mode & 0o7777);
        return;
      }
    }
  }

  /**
   * Stage an object through `write`, which must create the file at the path
   * it is given. Skipped when the object exists (unless `replace`). The caller
   * vouches that the content matches `csum`.
   */
  async stage(csum: Checksum, type: ObjectType, replace: boolean, write: (path: string) => Promise<void>): Promise<void> {
    if (this.done) throw new OtError('ERR_INVALID_ARGUMENT', 'Transaction already finished');
    const rel = loosePath(csum, type, this.repo.isArchive);
    // Dedupe synchronously, before any await: a second writer of the same
    // object joins the first one's promise instead of racing it to the file.
    const pending = this.writing.get(rel);
    if (pending) return pending;
    if (!replace && this.staged.has(rel)) return;
    const p = (async () => {
      if (!replace && this.inRepo(rel)) return;
      const dir = join(this.stagingDir, rel.slice(8, 10));
      if (!this.madeDirs.has(dir)) { mkdirSync(dir, { recursive: true }); this.madeDirs.add(dir); }
      const path = this.stagedPath(rel);
      if (replace) rmSync(path, { force: true });
      await write(path);
      this.staged.add(rel);
      if (replace) this.replacing.add(rel);
    })();
    this.writing.set(rel, p);
    try {
      await p;
    } finally {
      if (this.writing.get(rel) === p) this.writing.delete(rel);
    }
  }

  /**
   * Staged objects keep the objects/XX fan-out: creations in different
   * directories do not contend on one directory lock (a flat staging dir
   * measured slower in bench/pull.ts).
   */
  private stagedPath(rel: string): string {
    return join(this.stagingDir, rel.slice(8));
  }

  /**
   * During a long transaction (a pull of thousands of objects), make what is
   * staged so far durable (syncfs) and move it into objects/ while writing
   * goes on, so that commit has less to sync and rename. Each object moved
   * was complete and verified before the sync started, so it is durable
   * before it appears in objects/ — the order commit keeps too. An
   * interrupted transaction leaves such objects in objects/, as a
   * non-transactional ostree pull would: verified, and found by the rerun.
   * One at a time (null when one is running, nothing is staged, or there
   * is no native helper); commit waits for it and reports its failure.
   */
  flushEarly(): Promise<void> | null {
    const native = nativeSys();
    if (this.done || this.flushing !== null || native === null) return null;
    const rels = [...this.staged].filter((r) => !this.replacing.has(r)).sort();
    if (rels.length === 0) return null;
    this.flushing = (async () => {
      await syncFilesystem(this.stagingDir);
      const res = await native.renameObjects(this.stagingDir, join(this.repo.path, 'objects'), rels.map((r) => r.slice(8)), true, true);
      if (res.error !== undefined) {
        if (res.error.errno === -EINVAL_ERRNO) return; // no RENAME_NOREPLACE: commit moves them
        throw nativeSystemError(res.error);
      }
      for (const r of rels) {
        this.staged.delete(r);
        this.listed.get(r.slice(8, 10))?.add(r.slice(11));
      }
      faultPoint('transaction-after-early-flush');
    })().finally(() => { this.flushing = null; });
    this.flushing.catch(() => undefined); // reported by commit
    this.lastFlush = this.flushing;
    return this.flushing;
  }

  /** Make staged objects durable, move them into objects/, then apply ref updates. */
  async commit(refs: readonly RefUpdate[] = []): Promise<void> {
    if (this.done) throw new OtError('ERR_INVALID_ARGUMENT', 'Transaction already finished');
    this.done = true;
    try {
      await this.lastFlush;
      await Promise.all(this.writing.values());
      faultPoint('transaction-before-sync');
      // Nothing staged (a no-op pull): no object to make durable, no syncfs to wait for.
      if (this.staged.size > 0) await syncFilesystem(this.stagingDir);
      trace('commit: synced');
      await this.moveStaged();
      trace('commit: moved');
      if (this.staged.size > 0) await syncFilesystem(this.repo.path);
      faultPoint('transaction-before-refs');
      for (const r of refs) await this.repo.writeRef(r.name, r.checksum, r.remote ?? null);
      await rm(this.stagingDir, { recursive: true, force: true });
    } finally {
      this.lock.release();
    }
  }

  /**
   * Move the staged objects into objects/. An object that appeared in the
   * repo meanwhile (another writer) is kept, as ostree keeps an existing
   * object: replacing it would split the hardlinks that checkouts share with
   * it. With the native helper, renameat2(RENAME_NOREPLACE) in thread-pool
   * jobs (a delta pull moves ~1.5k objects: ~40 ms of main-thread renames);
   * otherwise, or where the filesystem lacks RENAME_NOREPLACE, here.
   */
  private async moveStaged(): Promise<void> {
    const rels = [...this.staged].sort();
    const native = nativeSys();
    if (native !== null) {
      const keep = rels.filter((r) => !this.replacing.has(r)).map((r) => r.slice(8));
      const half = Math.ceil(keep.length / 2);
      const batches: [string[], boolean][] = [[keep.slice(0, half), true], [keep.slice(half), true], [[...this.replacing].map((r) => r.slice(8)), false]];
      for (const [batch, noReplace] of batches) {
        if (batch.length === 0) continue;
        const res = await native.renameObjects(this.stagingDir, join(this.repo.path, 'objects'), batch, noReplace, false);
        if (res.error !== undefined) {
          if (res.error.errno !== -EINVAL_ERRNO) throw nativeSystemError(res.error);
          break; // no RENAME_NOREPLACE here: the loop below moves what is left
        }
        faultPoint('transaction-mid-rename');
      }
    }
    const present = new Map<string, Set<string>>();
    for (const rel of rels) {
      const from = this.stagedPath(rel);
      if (native !== null && !existsSync(from)) continue; // moved above
      const dir = join(this.repo.path, rel.slice(0, 10));
      let names = present.get(dir);
      if (names === undefined) {
        mkdirSync(dir, { recursive: true });
        present.set(dir, names = new Set(readdirSync(dir)));
      }
      if (!this.replacing.has(rel) && names.has(rel.slice(11))) rmSync(from, { force: true });
      else renameSync(from, join(this.repo.path, rel));
      faultPoint('transaction-mid-rename');
    }
  }

  /** Discard everything staged. */
  async abort(): Promise<void> {
    this.done = true;
    await this.lastFlush.catch(() => undefined);
    await Promise.allSettled(this.writing.values());
    try {
      await rm(this.stagingDir, { recursive: true, force: true });
    } finally {
      this.lock.release();
    }
  }
}

/**
 * Create a new file (O_EXCL) with `chunks`. Asynchronous on purpose: on the
 * measured disks file creation is latency-bound (~0.4 ms each), and several
 * creations in flight in the thread pool halve the time of a 5k-object write
 * (bench/pull.ts). The mode is re-applied when the umask would mask it.
 */
async function writeNew(path: string, chunks: Uint8Array[], mode: number): Promise<void> {
  const native = nativeSys();
  if (native) return native.writeNew(path, chunks, { mode });
  // Plain fds, not FileHandle objects: measurably less main-thread time per object.
  const fd = await openFd(path, 'wx', mode);
  try {
    for (const c of chunks) if (c.length > 0) await writeFd(fd, c);
    if ((mode & umask()) !== 0) await fchmodFd(fd, mode);
  } finally {
    await closeFd(fd);
  }
}

const openFd = promisify(fsOpen);
const closeFd = promisify(fsClose);
const fchmodFd = promisify(fsFchmod);
function writeFd(fd: number, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    let off = 0;
    const step = () => fsWrite(fd, data, off, data.length - off, null, (err, n) => {
      if (err) { reject(err); return; }
      off += n;
      if (off < data.length) step(); else resolve();
    });
    step();
  });
}

/** Read when first needed, not at module load (`ots` starts from a V8 snapshot made by another process). */
let umaskValue: number | undefined;
function umask(): number {
  umaskValue ??= process.umask();
  return umaskValue;
}
