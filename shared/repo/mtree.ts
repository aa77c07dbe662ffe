// A mutable in-memory tree (ostree's OstreeMutableTree): sources (directories,
// tarballs) are layered into it, then it is written bottom-up as dirtree
// objects. Leaves hold content checksums that are already stored.
import { OtError } from '../errors.js';
import { encodeDirtree, validateFilename, type Checksum } from '../objects/index.js';
import type { Transaction } from './transaction.js';

export class MutableTree {
  readonly files = new Map<string, Checksum>();
  readonly dirs = new Map<string, MutableTree>();
  /** Checksum of this directory's dirmeta (stored). */
  metaChecksum: Checksum | null = null;

  /** The subdirectory `name`, created (with no metadata yet) if absent. Replaces a file of that name. */
  ensureDir(name: string): MutableTree {
    validateFilename(name);
    let d = this.dirs.get(name);
    if (!d) {
      this.files.delete(name);
      d = new MutableTree();
      this.dirs.set(name, d);
    }
    return d;
  }

  /** Set a file, replacing a file or directory of the same name (later layers win). */
  setFile(name: string, csum: Checksum): void {
    validateFilename(name);
    this.dirs.delete(name);
    this.files.set(name, csum);
  }

  /** Walk `parts` from this tree, creating directories. */
  walkCreate(parts: readonly string[]): MutableTree {
    let t: MutableTree = this;
    for (const p of parts) t = t.ensureDir(p);
    return t;
  }

  /**
   * Write this tree's dirtree objects bottom-up; returns the root dirtree
   * checksum. Directories without metadata get `defaultMeta`.
   */
  async write(tx: Transaction, defaultMeta: Checksum): Promise<Checksum> {
    const dirs = await Promise.all(
      [...this.dirs].map(async ([name, sub]) => ({ name, dirtree: await sub.write(tx, defaultMeta), dirmeta: sub.metaChecksum ?? defaultMeta })),
    );
    const files = [...this.files].map(([name, checksum]) => ({ name, checksum }));
    return tx.writeMetadata('dirtree', encodeDirtree({ files, dirs }));
  }
}

/** Split a relative path into validated components; rejects absolute paths and `..`. */
export function splitRelativePath(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  for (const p of parts) {
    if (p === '..') throw new OtError('ERR_UNSAFE_PATH', `Path '${path}' escapes the tree root`, { path });
    validateFilename(p, `path ${path}`);
  }
  return parts;
}
