// Check a tree out of the repository into a directory (ostree checkout).
// Everything is created below a directory we made, names are validated, and
// nothing is ever opened through a symlink: files are created with O_EXCL
// (which does not follow a final symlink) and existing directories are lstat'ed.
import { chmod, chown, copyFile, lchown, link, lstat, open, symlink, unlink } from 'node:fs/promises';
import { chmodSync, chownSync, constants, createWriteStream, linkSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { OtError, isErrno, isOtError } from '../errors.js';
import { S_IFLNK, S_IFMT, parseChecksum, validateFilename, type Checksum, type FileHeader, type FileMeta } from '../objects/index.js';
import { nativeSys, nativeSystemError, type NativeError, type NativeSys, type NativeFormatError, type PlanResult } from '../native/sys.js';
import { Limiter } from './limiter.js';
import type { Repo } from './repo.js';
import { writeSymlinkXattrsSync, writeXattr, writeXattrSync } from './xattr-io.js';

export interface CheckoutOptions {
  /** Write into an existing tree, replacing files (--union). */
  union?: boolean;
  /** Hardlink files from the repo instead of copying (-H); bare and bare-user-only, or bare-user with userMode. */
  hardlink?: boolean;
  /** Fail instead of copying when a hardlink is refused (ostree checkout -H); deploys fall back to copies. */
  requireHardlinks?: boolean;
  /** Do not change ownership or set xattrs (-U); the default when not running as root. */
  userMode?: boolean;
  /** Check out only this subpath of the commit (--subpath). */
  subpath?: string;
}

export interface CheckoutStats { files: number; dirs: number }

const STREAM_ABOVE = 8 * 1024 * 1024;

/** Check out commit `csum` into `dest`. Throws ERR_UNSAFE_PATH, ERR_CONFLICT, ERR_OBJECT_NOT_FOUND. */
export async function checkoutCommit(repo: Repo, csum: Checksum, dest: string, opts: CheckoutOptions = {}): Promise<CheckoutStats> {
  const commit = await repo.loadCommit(csum);
  let tree = commit.rootDirtree;
  let meta = commit.rootDirmeta;
  for (const part of (opts.subpath ?? '').split('/').filter((p) => p !== '')) {
    const dt = await repo.loadDirtree(tree);
    const sub = dt.dirs.find((d) => d.name === part);
    if (!sub) {
      const file = dt.files.find((f) => f.name === part);
      if (file) return new Checkout(repo, opts).single(file.checksum, dest);
      throw new OtError('ERR_OBJECT_NOT_FOUND', `No such file or directory: ${opts.subpath}`, { path: opts.subpath });
    }
    tree = sub.dirtree;
    meta = sub.dirmeta;
  }
  const co = new Checkout(repo, opts);
  const native = nativeSys();
  if (opts.hardlink && !opts.union && native && repo.mode !== 'bare-user') await co.native(native, tree, meta, resolve(dest));
  else if (opts.hardlink && !opts.union && native) await co.planned(native, tree, meta, resolve(dest));
  else if (opts.hardlink && !opts.union) {
    const cwd = process.cwd();
    const root = resolve(dest);
    try { co.dirSync(tree, meta, root, root); } finally { process.chdir(cwd); }
  } else await co.dir(tree, meta, dest, dest);
  await co.flush();
  return co.stats;
}

class Checkout {
  readonly stats: CheckoutStats = { files: 0, dirs: 0 };
  private readonly limiter = new Limiter(16);
  private readonly pending: Promise<void>[] = [];
  private readonly userMode: boolean;
  // Read per checkout, not at module load (`ots` starts from a V8 snapshot made by another process).
  private readonly euid = process.geteuid?.() ?? -1;
  private readonly egid = process.getegid?.() ?? -1;
  private ownerIsOurs = false;
  private readonly objectsDir: string;
  /** A tree has a handful of distinct dirmetas shared by hundreds of directories. */
  private readonly dirmetas = new Map<Checksum, FileMeta>();

  constructor(private readonly repo: Repo, private readonly opts: CheckoutOptions) {
    this.userMode = opts.userMode ?? process.getuid?.() !== 0;
    this.objectsDir = join(repo.path, 'objects');
    if (opts.hardlink && (repo.isArchive || (repo.mode === 'bare-user' && !this.userMode))) {
      throw new OtError('ERR_UNSUPPORTED', `Hardlink checkouts from a ${repo.mode} repository need ${repo.isArchive ? 'a bare repository' : '--user-mode (-U)'}`);
    }
  }

  async flush(): Promise<void> {
    await Promise.all(this.pending);
  }

  async single(csum: Checksum, dest: string): Promise<CheckoutStats> {
    await this.file(csum, dest);
    return this.stats;
  }

  async dir(tree: Checksum, metaCsum: Checksum, path: string, root: string): Promise<void> {
    const dt = this.repo.loadDirtreeSync(tree);
    const meta = this.repo.loadDirmetaSync(metaCsum);
    this.makeDirSync(path, root);
    this.stats.dirs++;
    const children: Promise<void>[] = [];
    for (const f of dt.files) {
      validateFilename(f.name, path);
      const dest = join(path, f.name);
      // Hardlinks are one cheap syscall each: done synchronously, no thread-pool round trip (bench/deploy.ts).
      if (this.opts.hardlink && !this.opts.union && this.linkSync(f.checksum, dest)) { this.stats.files++; continue; }
      children.push(this.limiter.run(() => this.file(f.checksum, dest)));
    }
    for (const d of dt.dirs) {
      validateFilename(d.name, path);
      children.push(this.dir(d.dirtree, d.dirmeta, join(path, d.name), root));
    }
    await Promise.all(children);
    await this.applyMeta(path, meta, false);
  }

  /**
   * Hardlink checkout (deployments): the whole walk is synchronous syscalls on
   * the main thread — mkdir, link, chmod cost microseconds each, far less than a
   * thread-pool round trip (bench/deploy.ts). Files that cannot be linked (EXDEV,
   * EMLINK) are copied asynchronously; their directory's metadata is applied
   * once they are done, so every directory stays 0700 while it is populated.
   * Links are made from inside each new directory (chdir, then a one-component
   * name): the kernel then walks only the object's path, not the destination's
   * too — a quarter of the link time on a 5k-file tree. The caller restores the cwd.
   */
  dirSync(tree: Checksum, metaCsum: Checksum, path: string, root: string): void {
    const dt = this.repo.loadDirtreeSync(tree);
    let meta = this.dirmetas.get(metaCsum);
    if (meta === undefined) this.dirmetas.set(metaCsum, meta = this.repo.loadDirmetaSync(metaCsum));
    this.makeDirSync(path, root);
    // New directories get our uid and, unless a parent is setgid, our gid: then chown is a no-op we can skip.
    if (path === root) this.ownerIsOurs = (lstatSync(root).mode & 0o2000) === 0;
    this.stats.dirs++;
    let copies: Promise<void>[] | undefined;
    if (dt.files.length > 0) process.chdir(path);
    for (const f of dt.files) {
      validateFilename(f.name, path);
      if (this.repo.symlinkAsFileSync(f.checksum) === undefined && this.linkSync(f.checksum, f.name)) { this.stats.files++; continue; }
      const dest = `${path}/${f.name}`;
      (copies ??= []).push(this.limiter.run(async () => { this.stats.files++; await this.copy(f.checksum, dest); }));
    }
    for (const d of dt.dirs) {
      validateFilename(d.name, path);
      this.dirSync(d.dirtree, d.dirmeta, `${path}/${d.name}`, root);
    }
    if (copies) this.pending.push(Promise.all(copies).then(() => this.applyMeta(path, meta, false)));
    else this.applyMetaSync(path, meta, path === root);
  }

  /**
   * Hardlink checkout through a native plan (native/ots_sys.c): this walk reads
   * dirtrees and emits mkdir/link/chmod operations; a native thread executes
   * them in order meanwhile, with linkat relative to directory fds as ostree
   * does. The two overlap: the walk is mostly JavaScript, the links mostly
   * kernel time. Same checks and the same result as dirSync.
   */
  async planned(native: NativeSys, tree: Checksum, metaCsum: Checksum, root: string): Promise<void> {
    const plan = native.planOpen(this.objectsDir);
    const dirMetas = new Map<string, FileMeta>();
    let chunk = '';
    let ops = 0;
    const emit = (op: string): void => {
      chunk += op;
      if (++ops % 512 === 0) { native.planPush(plan, chunk); chunk = ''; }
    };
    let walked = false;
    let res: PlanResult;
    try {
      this.walkPlan(tree, metaCsum, root, root, emit, dirMetas);
      native.planPush(plan, chunk);
      walked = true;
    } finally {
      res = await native.planFinish(plan, !walked);
    }
    if (res.error) throw planError(res.error);
    const refused = res.copies[0];
    if (refused) this.refusedLink(refused[0]);
    for (const [path, meta] of dirMetas) {
      if (!this.userMode) for (const x of meta.xattrs) writeXattrSync(path, x.name, x.value);
    }
    this.copyRefused(res.copies, (dir) => dirMetas.get(dir)?.mode);
  }

  /**
   * Hardlink checkout walked natively (native/checkout.c): worker threads read,
   * verify and parse the dirtrees and make the directories and links, spreading
   * the kernel work over the cores. Bare and bare-user-only repositories, whose
   * symlink objects are symlinks. Same checks and result as dirSync.
   */
  async native(native: NativeSys, tree: Checksum, metaCsum: Checksum, root: string): Promise<void> {
    this.makeDirSync(root, root);
    const ownerIsOurs = (lstatSync(root).mode & 0o2000) === 0;
    const res = await native.checkoutTree(this.objectsDir, root, tree, metaCsum, {
      threads: Math.min(4, availableParallelism()), userMode: this.userMode, ownerIsOurs, euid: this.euid, egid: this.egid,
    });
    this.stats.dirs += res.dirs;
    this.stats.files += res.files;
    if (res.error) throw treeError(res.error);
    const refused = res.copies[0];
    if (refused) this.refusedLink(refused[0]);
    this.copyRefused(res.copies, (dir) => lstatSync(dir).mode);
  }

  /**
   * Links refused (another filesystem, too many links) become copies, per
   * directory, which is made writable meanwhile and gets `modeOf(dir)` back
   * once all are done.
   */
  private copyRefused(copies: [string, string][], modeOf: (dir: string) => number | undefined): void {
    const byDir = new Map<string, [string, string][]>();
    for (const c of copies) {
      const dir = dirname(c[0]);
      byDir.set(dir, [...(byDir.get(dir) ?? []), c]);
    }
    for (const [dir, list] of byDir) {
      const mode = modeOf(dir);
      chmodSync(dir, 0o700);
      this.pending.push(Promise.all(list.map(([dest, src]) => this.limiter.run(async () => {
        await this.copy(parseChecksum(`${src.slice(0, 2)}${src.slice(3, 65)}`), dest);
      }))).then(() => undefined).finally(() => { if (mode !== undefined) chmodSync(dir, mode & 0o7777); }));
    }
  }

  private walkPlan(tree: Checksum, metaCsum: Checksum, path: string, root: string, emit: (op: string) => void, dirMetas: Map<string, FileMeta>): void {
    const dt = this.repo.loadDirtreeSync(tree);
    let meta = this.dirmetas.get(metaCsum);
    if (meta === undefined) this.dirmetas.set(metaCsum, meta = this.repo.loadDirmetaSync(metaCsum));
    if (path === root) {
      this.makeDirSync(root, root);
      this.ownerIsOurs = (lstatSync(root).mode & 0o2000) === 0;
      emit(`C\0${path}\0`);
    } else {
      emit(`D\0${path}\0`);
    }
    dirMetas.set(path, meta);
    this.stats.dirs++;
    for (const f of dt.files) {
      validateFilename(f.name, path);
      const target = this.repo.symlinkAsFileSync(f.checksum);
      if (target !== undefined) emit(`S\0${target}\0${f.name}\0`);
      else emit(`L\0${f.checksum.slice(0, 2)}/${f.checksum.slice(2)}.file\0${f.name}\0`);
      this.stats.files++;
    }
    for (const d of dt.dirs) {
      validateFilename(d.name, path);
      this.walkPlan(d.dirtree, d.dirmeta, `${path}/${d.name}`, root, emit, dirMetas);
    }
    const chown = !this.userMode && (path === root || !this.ownerIsOurs || meta.uid !== this.euid || meta.gid !== this.egid);
    emit(`M\0${path}\0${(meta.mode & 0o7777).toString(8)}\0${chown ? meta.uid : -1}\0${chown ? meta.gid : -1}\0`);
  }

  /** Create a directory (0700 until its metadata is applied); an existing one only as the empty root, or anywhere with --union; never through a symlink. */
  private makeDirSync(path: string, root: string): void {
    try {
      mkdirSync(path, { mode: 0o700 });
      return;
    } catch (err: unknown) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const st = lstatSync(path);
    if (st.isSymbolicLink()) throw new OtError('ERR_UNSAFE_PATH', `Refusing to check out through symlink ${path}`, { path });
    if (!st.isDirectory()) throw new OtError('ERR_CONFLICT', `${path} exists and is not a directory`, { path });
    if (this.opts.union) return;
    if (path === root && readdirSync(path).length !== 0) {
      throw new OtError('ERR_CONFLICT', `Destination ${path} already exists`, { path, hint: 'use --union to write into an existing tree' });
    }
    if (path !== root) throw new OtError('ERR_CONFLICT', `${path} already exists`, { path });
  }

  /** Directory metadata, synchronously; chown only when the owner differs from ours (mkdir already gave it ours). */
  private applyMetaSync(path: string, meta: FileMeta, isRoot: boolean): void {
    if (!this.userMode) {
      for (const x of meta.xattrs) writeXattrSync(path, x.name, x.value);
      if (isRoot || !this.ownerIsOurs || meta.uid !== this.euid || meta.gid !== this.egid) chownSync(path, meta.uid, meta.gid);
    }
    chmodSync(path, meta.mode & 0o7777);
  }

  /** Hardlink an object to `name` in the cwd; false when it must be copied instead (another filesystem, too many links). */
  private linkSync(csum: Checksum, name: string): boolean {
    try {
      linkSync(`${this.objectsDir}/${csum.slice(0, 2)}/${csum.slice(2)}.file`, name);
      return true;
    } catch (err: unknown) {
      if (isErrno(err, 'EXDEV') || isErrno(err, 'EMLINK')) return this.refusedLink(name, err);
      throw err;
    }
  }

  /** A refused hardlink: false (copy instead), or an error under requireHardlinks. */
  private refusedLink(path: string, cause?: unknown): false {
    if (!this.opts.requireHardlinks) return false;
    const why = isErrno(cause, 'EXDEV') ? 'repository and destination are on different filesystems'
      : isErrno(cause, 'EMLINK') ? 'too many links to the object' : 'another filesystem, or too many links to the object';
    throw new OtError('ERR_UNSUPPORTED', `Hardlinking ${path} failed: ${why}`, {
      path, cause, hint: 'check out to the filesystem holding the repository, or drop -H to allow copies',
    });
  }

  private async file(csum: Checksum, path: string): Promise<void> {
    this.stats.files++;
    if (this.opts.union) await removeExisting(path);
    if (this.opts.hardlink && this.repo.symlinkAsFileSync(csum) === undefined) {
      await link(this.repo.objectPath(csum, 'file'), path).catch(async (err: unknown) => {
        if (!isErrno(err, 'EXDEV') && !isErrno(err, 'EMLINK')) throw err;
        this.refusedLink(path, err);
        await this.copy(csum, path);
      });
      return;
    }
    await this.copy(csum, path);
  }

  private async copy(csum: Checksum, path: string): Promise<void> {
    if (!this.repo.isArchive) {
      const { header } = await this.repo.readContentHeader(csum);
      if (await this.maybeSymlink(header, path)) return;
      await copyFile(this.repo.objectPath(csum, 'file'), path, constants.COPYFILE_EXCL);
      await this.applyMeta(path, header, true);
      return;
    }
    try {
      const { header, payload } = await this.repo.readContent(csum, { maxSize: STREAM_ABOVE });
      if (await this.maybeSymlink(header, path)) return;
      const fh = await open(path, 'wx', 0o600);
      try { await fh.writeFile(payload); } finally { await fh.close(); }
      await this.applyMeta(path, header, true);
    } catch (err: unknown) {
      if (!isOtError(err, 'ERR_TOO_LARGE')) throw err;
      // Large files stream through: memory stays bounded whatever the file size.
      const { header, stream } = await this.repo.openContentStream(csum);
      await pipeline(stream(), createWriteStream(path, { flags: 'wx', mode: 0o600 }));
      await this.applyMeta(path, header, true);
    }
  }

  private async maybeSymlink(header: FileHeader, path: string): Promise<boolean> {
    if ((header.mode & S_IFMT) !== S_IFLNK) return false;
    await symlink(header.symlinkTarget, path);
    if (!this.userMode) {
      writeSymlinkXattrsSync(path, header.xattrs);
      await lchown(path, header.uid, header.gid);
    }
    return true;
  }

  private async applyMeta(path: string, meta: FileMeta | FileHeader, isFile: boolean): Promise<void> {
    if (!this.userMode) {
      for (const x of meta.xattrs) await writeXattr(path, x.name, x.value);
      await chown(path, meta.uid, meta.gid);
    }
    await chmod(path, meta.mode & (isFile && this.userMode ? 0o777 : 0o7777));
  }
}

/** A failed plan operation as the error the synchronous walk would have thrown. */
function planError(err: NativeError): Error {
  if (getSystemErrorName(err.errno) === 'EEXIST') return new OtError('ERR_CONFLICT', `${err.path ?? 'a checkout path'} already exists`, { path: err.path });
  return nativeSystemError(err);
}

/** A native tree checkout's failure as the error the TypeScript walk would have thrown. */
function treeError(err: NativeError | NativeFormatError): Error {
  if ('errno' in err) return planError(err);
  const hint = err.code === 'ERR_CHECKSUM_MISMATCH' || err.code === 'ERR_OBJECT_NOT_FOUND' ? 'run ots fsck to list every damaged object' : undefined;
  return new OtError(err.code, err.message, { checksum: err.checksum, objectType: err.objectType, path: err.path, hint });
}

async function removeExisting(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (st.isDirectory()) throw new OtError('ERR_CONFLICT', `${path} is a directory; cannot replace it with a file`, { path });
    await unlink(path);
  } catch (err: unknown) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}
