// Layer a directory on disk into a MutableTree, writing content and dirmeta
// objects as it goes (ostree_repo_write_directory_to_mtree). Files are read,
// hashed and compressed with bounded concurrency so both cores work.
import { createReadStream } from 'node:fs';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import { OtError } from '../errors.js';
import { S_IFLNK, S_IFMT, S_IFREG, encodeDirmeta, encodeFileHeader, type Checksum, type FileHeader, type FileMeta } from '../objects/index.js';
import { Limiter } from './limiter.js';
import { MutableTree } from './mtree.js';
import type { Transaction } from './transaction.js';
import { readSymlinkXattrsSync, readXattrsSync } from './xattr-io.js';
import { writeLargeContent } from './large-content.js';

/** How file metadata is recorded (ostree commit's --owner-uid, --canonical-permissions, --no-xattrs). */
export interface CommitModifier {
  ownerUid?: number;
  ownerGid?: number;
  canonicalPermissions?: boolean;
  noXattrs?: boolean;
}

/** Files larger than this are hashed and written by streaming instead of in memory. */
const STREAM_THRESHOLD = 16 * 1024 * 1024;

/** Apply the modifier to a stat result → recorded (uid, gid, mode). Pure. */
export function recordedMeta(st: { uid: number; gid: number; mode: number }, mod: CommitModifier): { uid: number; gid: number; mode: number } {
  let { uid, gid, mode } = st;
  if (mod.canonicalPermissions) {
    uid = 0; gid = 0;
    if ((mode & S_IFMT) !== S_IFLNK) mode = mode & (S_IFMT | 0o755);
  }
  if (mod.ownerUid !== undefined) uid = mod.ownerUid;
  if (mod.ownerGid !== undefined) gid = mod.ownerGid;
  return { uid, gid, mode };
}

export class DirectoryImporter {
  private readonly limiter = new Limiter(16);
  /** Content checksum by dev:ino for files with several links (read once). */
  private readonly inodes = new Map<string, Promise<Checksum>>();
  filesSeen = 0;

  constructor(private readonly tx: Transaction, private readonly mod: CommitModifier) {}

  /** Layer `srcDir` onto `tree` (the root's own metadata becomes the tree's dirmeta). */
  async importInto(tree: MutableTree, srcDir: string): Promise<void> {
    const st = lstatSync(srcDir);
    if (!st.isDirectory()) throw new OtError('ERR_INVALID_ARGUMENT', `${srcDir} is not a directory`, { path: srcDir });
    await this.importDir(tree, srcDir, st);
  }

  private async dirmeta(path: string, st: Stats): Promise<Checksum> {
    const meta: FileMeta = { ...recordedMeta(st, this.mod), xattrs: this.mod.noXattrs ? [] : readXattrsSync(path) };
    return this.tx.writeMetadata('dirmeta', encodeDirmeta(meta));
  }

  private async importDir(tree: MutableTree, path: string, st: Stats): Promise<void> {
    tree.metaChecksum = await this.dirmeta(path, st);
    const entries = readdirSync(path);
    await Promise.all(entries.map(async (name) => {
      const child = join(path, name);
      const cst = lstatSync(child);
      if (cst.isDirectory()) return this.importDir(tree.ensureDir(name), child, cst);
      if (!cst.isFile() && !cst.isSymbolicLink()) {
        throw new OtError('ERR_UNSUPPORTED', `Unsupported file type for ${child} (devices, fifos and sockets cannot be committed)`, { path: child });
      }
      tree.setFile(name, await this.contentOf(child, cst));
    }));
  }

  private contentOf(path: string, st: Stats): Promise<Checksum> {
    this.filesSeen++;
    if (st.isFile() && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      let p = this.inodes.get(key);
      if (!p) { p = this.limiter.run(() => this.writeFile(path, st)); this.inodes.set(key, p); }
      return p;
    }
    return this.limiter.run(() => this.writeFile(path, st));
  }

  private async writeFile(path: string, st: Stats): Promise<Checksum> {
    const base = recordedMeta(st, this.mod);
    if (st.isSymbolicLink()) {
      const header: FileHeader = { ...base, mode: S_IFLNK | 0o777, xattrs: this.mod.noXattrs ? [] : readSymlinkXattrsSync(path), symlinkTarget: readlinkSync(path) };
      return this.tx.writeContent(header, new Uint8Array(0));
    }
    const header: FileHeader = { ...base, mode: S_IFREG | (base.mode & 0o7777), xattrs: this.mod.noXattrs ? [] : readXattrsSync(path), symlinkTarget: '' };
    if (st.size > STREAM_THRESHOLD) return writeLargeContent(this.tx, header, path, await hashFile(encodeFileHeader(header), path));
    const payload = new Uint8Array(readFileSync(path));
    return this.tx.writeContent(header, payload);
  }
}

async function hashFile(prefix: Uint8Array, path: string): Promise<Checksum> {
  const h = createHash('sha256');
  h.update(prefix);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex') as Checksum;
}
