// dirtree objects: (a(say)a(sayay)) — files (name, content checksum) and
// subdirectories (name, dirtree, dirmeta), each sorted by name (objects.md §4).
import { OtError } from '../errors.js';
import { decode, encode } from '../gvariant/index.js';
import { checksumFromBytes, checksumToBytes, type Checksum } from './checksum.js';
import { validateFilename } from './filename.js';

/**
 * | field | type | meaning |
 * |---|---|---|
 * | files | a(say) | (name, content object checksum), sorted by strcmp |
 * | dirs | a(sayay) | (name, dirtree checksum, dirmeta checksum), sorted by strcmp |
 */
export const DIRTREE_FORMAT = '(a(say)a(sayay))';

export interface DirtreeFile { name: string; checksum: Checksum }
export interface DirtreeDir { name: string; dirtree: Checksum; dirmeta: Checksum }
export interface Dirtree { files: DirtreeFile[]; dirs: DirtreeDir[] }

/** Byte-wise strcmp order of UTF-8 names. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Serialise a dirtree, sorting both lists. Throws ERR_UNSAFE_PATH on a bad or duplicate name. Pure. */
export function encodeDirtree(tree: Dirtree): Uint8Array {
  const files = [...tree.files].sort((a, b) => compareNames(a.name, b.name));
  const dirs = [...tree.dirs].sort((a, b) => compareNames(a.name, b.name));
  assertUniqueNames(files.map((f) => f.name), dirs.map((d) => d.name));
  return encode(DIRTREE_FORMAT, [
    files.map((f) => [f.name, checksumToBytes(f.checksum)]),
    dirs.map((d) => [d.name, checksumToBytes(d.dirtree), checksumToBytes(d.dirmeta)]),
  ]);
}

/**
 * Parse and validate a dirtree: every name passes validateFilename, every
 * checksum is 32 bytes, no name appears twice. Throws ERR_BAD_FORMAT,
 * ERR_NOT_NORMAL_FORM or ERR_UNSAFE_PATH. Pure.
 */
export function decodeDirtree(bytes: Uint8Array, opts: { trusted?: boolean } = {}): Dirtree {
  const [rawFiles, rawDirs] = decode(DIRTREE_FORMAT, bytes, opts) as [[string, Uint8Array][], [string, Uint8Array, Uint8Array][]];
  const files = rawFiles.map(([name, csum], i) => {
    validateFilename(name, `file ${i} in dirtree`);
    return { name, checksum: checksumFromBytes(csum, `checksum of file ${name}`) };
  });
  const dirs = rawDirs.map(([name, tree, meta], i) => {
    validateFilename(name, `dir ${i} in dirtree`);
    return { name, dirtree: checksumFromBytes(tree, `dirtree of ${name}`), dirmeta: checksumFromBytes(meta, `dirmeta of ${name}`) };
  });
  assertUniqueNames(files.map((f) => f.name), dirs.map((d) => d.name));
  return { files, dirs };
}

function assertUniqueNames(files: string[], dirs: string[]): void {
  const seen = new Set<string>();
  for (const n of [...files, ...dirs]) {
    validateFilename(n, 'dirtree entry');
    if (seen.has(n)) throw new OtError('ERR_UNSAFE_PATH', `Duplicate name '${n}' in dirtree`, { path: n });
    seen.add(n);
  }
}
