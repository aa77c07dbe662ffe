// A repository on disk: open/create, object paths, reading objects and refs
// (repo-layout.md). Writes go through Transaction (transaction.ts).
import { closeSync, constants as fsConstants, createReadStream, fstatSync, lstatSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import { lstat, mkdir, open, readFile, readlink, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { OtError, isErrno, prefixError } from '../errors.js';
import {
  S_IFLNK, S_IFMT, S_IFREG, checksumOf, decodeArchiveHeader, decodeCommit, decodeDirmeta, decodeDirtree, decodeFileMeta,
  encodeFileHeader, loosePath, parseChecksum, type Checksum, type Commit, type Dirtree, type FileHeader, type FileMeta,
  type ObjectType,
} from '../objects/index.js';
import { writeFileAtomic } from './atomic-fs.js';
import { KeyFile } from './keyfile.js';
import { parseRepoMode, repoModeConfigName, type RepoMode } from './repo-mode.js';
import { validateRefName, validateRemoteName } from './refs.js';
import { OSTREEMETA_XATTR, readSymlinkXattrsSync, readXattr, readXattrSync, readXattrs } from './xattr-io.js';
import { inflatePayload } from './deflate.js';

/** A content object read into memory. */
export interface ContentObject {
  header: FileHeader;
  /** Regular-file bytes; empty for symlinks. */
  payload: Uint8Array;
}

/** A named ref: `remote` is null for refs/heads. */
export interface RefEntry { remote: string | null; name: string; checksum: Checksum }

/** Dirtrees kept decoded per Repo (a Debian tree has ~450; an entry is ~2 KB). */
const DIRTREE_CACHE = 8192;

export class Repo {
  /** Absolute: a checkout may change the process cwd while it walks (see checkout.ts). */
  readonly path: string;
  private readonly dirtrees = new Map<Checksum, Dirtree>();

  private constructor(path: string, readonly mode: RepoMode, public config: KeyFile) {
    this.path = resolve(path);
  }

  /** Open an existing repository. Throws ERR_INVALID_ARGUMENT when `path` is not one. */
  static async open(path: string): Promise<Repo> {
    let text: string;
    try {
      text = await readFile(join(path, 'config'), 'utf8');
    } catch (err: unknown) {
      throw new OtError('ERR_INVALID_ARGUMENT', `${path} is not an OSTree repository (no config)`, {
        cause: err, path, hint: `create one with: ots --repo=${path} init --mode=archive`,
      });
    }
    const config = KeyFile.parse(text);
    const version = config.get('core', 'repo_version');
    if (version !== '1') throw new OtError('ERR_UNSUPPORTED', `Unsupported repo_version ${version ?? '(none)'} in ${path}/config`);
    return new Repo(path, parseRepoMode(config.get('core', 'mode')), config);
  }

  /** Create a repository (like `ostree init`); an existing one with the same mode is opened. */
  static async create(path: string, mode: RepoMode, opts: { collectionId?: string } = {}): Promise<Repo> {
    try {
      const existing = await Repo.open(path);
      if (existing.mode !== mode) throw new OtError('ERR_CONFLICT', `${path} is already a ${existing.mode} repository`);
      return existing;
    } catch (err: unknown) {
      if (!(err instanceof OtError) || err.code !== 'ERR_INVALID_ARGUMENT') throw err;
    }
    for (const d of ['objects', 'refs/heads', 'refs/mirrors', 'refs/remotes', 'state', 'tmp/cache', 'extensions']) {
      await mkdir(join(path, d), { recursive: true });
    }
    const config = KeyFile.empty();
    config.set('core', 'repo_version', '1');
    config.set('core', 'mode', repoModeConfigName(mode));
    if (opts.collectionId) config.set('core', 'collection-id', opts.collectionId);
    await writeFileAtomic(join(path, 'config'), config.toString());
    return new Repo(path, mode, config);
  }

  get isArchive(): boolean {
    return this.mode === 'archive';
  }

  /** Persist `this.config` atomically. */
  async writeConfig(): Promise<void> {
    await writeFileAtomic(join(this.path, 'config'), this.config.toString());
  }

  /** Absolute path of a loose object. */
  objectPath(csum: Checksum, type: ObjectType): string {
    return join(this.path, loosePath(csum, type, this.isArchive));
  }

  async hasObject(csum: Checksum, type: ObjectType): Promise<boolean> {
    try {
      await lstat(this.objectPath(csum, type));
      return true;
    } catch (err: unknown) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  /**
   * The target of a stored symlink that lives on disk as a regular file, else
   * undefined: bare-user keeps symlinks as files (target as content, the real
   * mode in user.ostreemeta), so they must never be hardlinked into a
   * checkout. Always undefined in the other modes (real symlinks, or archive).
   */
  symlinkAsFileSync(csum: Checksum): string | undefined {
    if (this.mode !== 'bare-user') return undefined;
    const path = this.objectPath(csum, 'file');
    try {
      const raw = readXattrSync(path, OSTREEMETA_XATTR);
      if (raw === undefined) throw new OtError('ERR_BAD_FORMAT', `Missing ${OSTREEMETA_XATTR} on ${path}`, { path, checksum: csum });
      if ((decodeFileMeta(raw).mode & S_IFMT) !== S_IFLNK) return undefined;
      return symlinkTarget(readFileSync(path));
    } catch (err: unknown) {
      throw this.contentError(err, csum);
    }
  }

  /** Synchronous hasObject, for hot paths (see Transaction.stage). */
  hasObjectSync(csum: Checksum, type: ObjectType): boolean {
    return lstatSync(this.objectPath(csum, type), { throwIfNoEntry: false }) !== undefined;
  }

  /** Raw bytes of a metadata object. Throws ERR_OBJECT_NOT_FOUND. */
  async readMetadata(csum: Checksum, type: ObjectType): Promise<Uint8Array> {
    try {
      return await readMetadataFile(this.objectPath(csum, type), csum, type);
    } catch (err: unknown) {
      if (isErrno(err, 'ENOENT')) {
        throw new OtError('ERR_OBJECT_NOT_FOUND', `No such metadata object ${csum}.${type}`, { checksum: csum, objectType: type, cause: err });
      }
      throw err;
    }
  }

  /** Read, checksum-verify and decode a commit. */
  async loadCommit(csum: Checksum): Promise<Commit> {
    return decodeCommit(await this.readVerified(csum, 'commit'));
  }

  loadCommitSync(csum: Checksum): Commit {
    return decodeCommit(this.readVerifiedSync(csum, 'commit'));
  }

  /** Synchronous loadDirtree/loadDirmeta, for hot loops over many small objects (checkout). */
  // The checksum is verified; the normal-form re-encode is skipped (trusted: our own stored objects).
  // Decoded trees are remembered (up to DIRTREE_CACHE entries): a deploy walks
  // the new tree for its checkout and again for the prune that follows.
  loadDirtreeSync(csum: Checksum): Dirtree {
    const hit = this.dirtrees.get(csum);
    if (hit !== undefined) return hit;
    const dt = decodeDirtree(this.readVerifiedSync(csum, 'dirtree'), { trusted: true });
    if (this.dirtrees.size < DIRTREE_CACHE) this.dirtrees.set(csum, dt);
    return dt;
  }

  loadDirmetaSync(csum: Checksum): FileMeta {
    return decodeDirmeta(this.readVerifiedSync(csum, 'dirmeta'), { trusted: true });
  }

  private readVerifiedSync(csum: Checksum, type: ObjectType): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = readMetadataFileSync(this.objectPath(csum, type), csum, type);
    } catch (err: unknown) {
      if (isErrno(err, 'ENOENT')) throw new OtError('ERR_OBJECT_NOT_FOUND', `No such metadata object ${csum}.${type}`, { checksum: csum, objectType: type, cause: err });
      throw err;
    }
    return this.checkVerified(csum, type, bytes);
  }

  async loadDirtree(csum: Checksum): Promise<Dirtree> {
    return decodeDirtree(await this.readVerified(csum, 'dirtree'));
  }

  async loadDirmeta(csum: Checksum): Promise<FileMeta> {
    return decodeDirmeta(await this.readVerified(csum, 'dirmeta'));
  }

  private async readVerified(csum: Checksum, type: ObjectType): Promise<Uint8Array> {
    return this.checkVerified(csum, type, await this.readMetadata(csum, type));
  }

  private checkVerified(csum: Checksum, type: ObjectType, bytes: Uint8Array): Uint8Array {
    const actual = checksumOf(bytes);
    if (actual !== csum) {
      throw new OtError('ERR_CHECKSUM_MISMATCH', `Corrupted ${type} object; checksum expected='${csum}' actual='${actual}'`, {
        checksum: csum, objectType: type, expected: csum, found: actual, hint: 'run ots fsck to list every damaged object',
      });
    }
    return bytes;
  }

  /** The header of a content object (no payload read for bare modes). */
  async readContentHeader(csum: Checksum): Promise<{ header: FileHeader; size: number }> {
    const path = this.objectPath(csum, 'file');
    try {
      if (this.isArchive) {
        const { header, payload } = await this.readContent(csum);
        return { header, size: payload.length };
      }
      return await this.bareHeader(path);
    } catch (err: unknown) {
      throw this.contentError(err, csum);
    }
  }

  private async bareHeader(path: string): Promise<{ header: FileHeader; size: number }> {
    const st = await lstat(path);
    if (this.mode === 'bare-user') {
      const raw = await readXattr(path, OSTREEMETA_XATTR);
      if (raw === undefined) throw new OtError('ERR_BAD_FORMAT', `Missing ${OSTREEMETA_XATTR} on ${path}`, { path });
      const meta = decodeFileMeta(raw);
      if ((meta.mode & S_IFMT) === S_IFLNK) {
        const target = symlinkTarget(await readFile(path));
        return { header: { ...meta, symlinkTarget: target }, size: 0 };
      }
      return { header: { ...meta, symlinkTarget: '' }, size: st.size };
    }
    if (st.isSymbolicLink()) {
      const xattrs = this.mode === 'bare' ? readSymlinkXattrsSync(path) : [];
      return { header: { uid: st.uid, gid: st.gid, mode: st.mode, xattrs, symlinkTarget: await readlink(path) }, size: 0 };
    }
    const xattrs = this.mode === 'bare-user-only' ? [] : await readXattrs(path);
    const mode = this.mode === 'bare-user-only' ? S_IFREG | (st.mode & 0o7777) : st.mode;
    const owner = this.mode === 'bare-user-only' ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid };
    return { header: { ...owner, mode, xattrs, symlinkTarget: '' }, size: st.size };
  }

  /**
   * Read a whole content object into memory. With `maxSize`, a payload larger
   * than that throws ERR_TOO_LARGE before it is read (use openContentStream).
   */
  async readContent(csum: Checksum, opts: { maxSize?: number } = {}): Promise<ContentObject> {
    const path = this.objectPath(csum, 'file');
    try {
      if (this.isArchive) {
        const bytes = new Uint8Array(await readFile(path));
        const { header, size, payloadOffset } = decodeArchiveHeader(bytes);
        if (opts.maxSize !== undefined && (size ?? 0n) > BigInt(opts.maxSize)) {
          throw new OtError('ERR_TOO_LARGE', `Payload of ${size} bytes is over the in-memory limit`, { checksum: csum });
        }
        const payload = await inflatePayload(bytes.subarray(payloadOffset), size ?? 0n);
        return { header, payload };
      }
      const { header, size } = await this.bareHeader(path);
      if (opts.maxSize !== undefined && size > opts.maxSize) {
        throw new OtError('ERR_TOO_LARGE', `Payload of ${size} bytes is over the in-memory limit`, { checksum: csum });
      }
      const payload = (header.mode & S_IFMT) === S_IFLNK ? new Uint8Array(0) : new Uint8Array(await readFile(path));
      return { header, payload };
    } catch (err: unknown) {
      throw this.contentError(err, csum);
    }
  }

  /**
   * Open a content object's payload as a stream (bounded memory, for large
   * files). Symlinks have an empty payload.
   */
  async openContentStream(csum: Checksum): Promise<{ header: FileHeader; size: number; stream: () => Readable }> {
    const path = this.objectPath(csum, 'file');
    try {
      if (!this.isArchive) {
        const { header, size } = await this.bareHeader(path);
        return { header, size, stream: () => ((header.mode & S_IFMT) === S_IFLNK ? Readable.from([]) : createReadStream(path)) };
      }
      const fh = await open(path, 'r');
      let head: Buffer;
      try {
        const len = Buffer.alloc(8);
        await fh.read(len, 0, 8, 0);
        const h = len.readUInt32BE(0);
        if (h === 0 || h > 1024 * 1024) throw new OtError('ERR_BAD_FORMAT', `File header size ${h} is invalid`);
        head = Buffer.alloc(8 + h);
        await fh.read(head, 0, 8 + h, 0);
      } finally {
        await fh.close();
      }
      const { header, size, payloadOffset } = decodeArchiveHeader(new Uint8Array(head));
      const n = Number(size ?? 0n);
      return { header, size: n, stream: () => (n === 0 ? Readable.from([]) : createReadStream(path, { start: payloadOffset }).pipe(createInflateRaw())) };
    } catch (err: unknown) {
      throw this.contentError(err, csum);
    }
  }

  private contentError(err: unknown, csum: Checksum): OtError {
    if (err instanceof OtError && err.code === 'ERR_TOO_LARGE') return err;
    if (isErrno(err, 'ENOENT')) {
      return new OtError('ERR_OBJECT_NOT_FOUND', `No such content object ${csum}`, { checksum: csum, objectType: 'file', cause: err });
    }
    const e = prefixError(err, `Content object ${csum}`, 'ERR_BAD_FORMAT');
    return new OtError(e.code, e.message, { checksum: csum, objectType: 'file', cause: err });
  }

  /** Read a content object and check it hashes to its name. */
  async readContentVerified(csum: Checksum): Promise<ContentObject> {
    const obj = await this.readContent(csum);
    const actual = checksumOf(encodeFileHeader(obj.header), obj.payload);
    if (actual !== csum) {
      throw new OtError('ERR_CHECKSUM_MISMATCH', `Corrupted file object; checksum expected='${csum}' actual='${actual}'`, {
        checksum: csum, objectType: 'file', expected: csum, found: actual,
      });
    }
    return obj;
  }

  // ---- refs ----

  private refPath(name: string, remote: string | null): string {
    validateRefName(name);
    if (remote !== null) validateRemoteName(remote);
    return remote === null ? join(this.path, 'refs/heads', name) : join(this.path, 'refs/remotes', remote, name);
  }

  /** The checksum a ref points at, or null when absent. */
  async readRef(name: string, remote: string | null = null): Promise<Checksum | null> {
    try {
      const text = (await readFile(this.refPath(name, remote), 'utf8')).trim();
      return parseChecksum(text, `ref ${remote ? `${remote}:` : ''}${name}`);
    } catch (err: unknown) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'EISDIR')) return null;
      throw err;
    }
  }

  /** Point a ref at a commit atomically, or delete it (csum null). */
  async writeRef(name: string, csum: Checksum | null, remote: string | null = null): Promise<void> {
    const p = this.refPath(name, remote);
    if (csum === null) {
      await rm(p, { force: true });
      return;
    }
    // Unchanged: nothing to write (a no-op pull or deploy must not pay a file + directory fsync per ref).
    if ((await this.readRef(name, remote).catch(() => null)) === csum) return;
    // The temp file lives in tmp/, never among the refs, so a crash cannot leave a stray "ref".
    await writeFileAtomic(p, `${csum}\n`, { tmpDir: join(this.path, 'tmp') });
  }

  /** All refs under refs/heads and refs/remotes, sorted by (remote, name). */
  // Synchronous reads inside: a few small files, cheaper than thread-pool round trips (deploy lists refs to prune).
  async listRefs(): Promise<RefEntry[]> {
    const out: RefEntry[] = [];
    for (const [name, csum] of this.walkRefs(join(this.path, 'refs/heads'), '')) out.push({ remote: null, name, checksum: csum });
    let remotes: string[] = [];
    try { remotes = readdirSync(join(this.path, 'refs/remotes')); } catch { remotes = []; }
    for (const r of remotes.sort()) {
      for (const [name, csum] of this.walkRefs(join(this.path, 'refs/remotes', r), '')) out.push({ remote: r, name, checksum: csum });
    }
    return out;
  }

  private walkRefs(dir: string, prefix: string): [string, Checksum][] {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err: unknown) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const out: [string, Checksum][] = [];
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.')) continue; // never a valid ref name (stray temp files of older versions)
      const name = prefix + e.name;
      if (e.isDirectory()) out.push(...this.walkRefs(join(dir, e.name), `${name}/`));
      else {
        const text = readFileSync(join(dir, e.name), 'utf8').trim();
        out.push([name, parseChecksum(text, `ref ${name}`)]);
      }
    }
    return out;
  }

  /**
   * Resolve a revision: a full checksum, `ref`, `remote:ref`, with any number
   * of trailing `^` for parents. Throws ERR_REF_NOT_FOUND.
   */
  async resolveRev(rev: string): Promise<Checksum> {
    let base = rev;
    let parents = 0;
    while (base.endsWith('^')) { base = base.slice(0, -1); parents++; }
    let csum: Checksum | null = null;
    if (/^[0-9a-f]{64}$/.test(base)) csum = base as Checksum;
    else {
      const i = base.indexOf(':');
      csum = i === -1 ? await this.readRef(base) : await this.readRef(base.slice(i + 1), base.slice(0, i));
      if (csum === null && i === -1) csum = await this.findRemoteRef(base);
    }
    if (csum === null) throw new OtError('ERR_REF_NOT_FOUND', `Refspec '${base}' not found`, { hint: 'list refs with: ots refs' });
    for (let k = 0; k < parents; k++) {
      const c = await this.loadCommit(csum);
      if (c.parent === null) throw new OtError('ERR_REF_NOT_FOUND', `Commit ${csum} has no parent`, { checksum: csum });
      csum = c.parent;
    }
    return csum;
  }

  private async findRemoteRef(name: string): Promise<Checksum | null> {
    for (const r of await this.listRefs()) if (r.remote !== null && r.name === name) return r.checksum;
    return null;
  }

  /** Whether `state/<commit>.commitpartial` marks this commit as incomplete. */
  async isCommitPartial(csum: Checksum): Promise<boolean> {
    return this.isCommitPartialSync(csum);
  }

  isCommitPartialSync(csum: Checksum): boolean {
    return statSync(join(this.path, 'state', `${csum}.commitpartial`), { throwIfNoEntry: false }) !== undefined;
  }
}

/** A bare-user symlink object's content: the target, maybe NUL-terminated. */
function symlinkTarget(body: Buffer): string {
  return body.subarray(0, body.length > 0 && body[body.length - 1] === 0 ? body.length - 1 : body.length).toString('utf8');
}

/**
 * Metadata objects are regular files, never links: opened without following a
 * final symlink and without blocking (a FIFO planted in objects/ would hang a
 * plain read), then refused unless regular.
 */
const METADATA_OPEN_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

function notRegular(path: string, csum: Checksum, type: ObjectType): OtError {
  return new OtError('ERR_BAD_FORMAT', `Metadata object ${csum}.${type} is not a regular file`, { path, checksum: csum, objectType: type, hint: 'run ots fsck' });
}

function readMetadataFileSync(path: string, csum: Checksum, type: ObjectType): Uint8Array {
  const fd = openSync(path, METADATA_OPEN_FLAGS);
  try {
    if (!fstatSync(fd).isFile()) throw notRegular(path, csum, type);
    return new Uint8Array(readFileSync(fd));
  } finally {
    closeSync(fd);
  }
}

async function readMetadataFile(path: string, csum: Checksum, type: ObjectType): Promise<Uint8Array> {
  const fh = await open(path, METADATA_OPEN_FLAGS);
  try {
    if (!(await fh.stat()).isFile()) throw notRegular(path, csum, type);
    return new Uint8Array(await fh.readFile());
  } finally {
    await fh.close();
  }
}
