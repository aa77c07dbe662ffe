// dirtree objects: (a(say)a(sayay)) — files (name, content checksum) and
// subdirectories (name, dirtree, dirmeta), each sorted by name (objects.md §4).
import { OtError } from '../errors.js';
import { decode, encode } from '../gvariant/index.js';
import { checksumFromBytes, checksumToBytes, type Checksum } from './checksum.js';
import { validateFilename } from './filename.js';
import { nameAt } from './gv-string.js';

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
  // Verified local objects (checkout, deploy) take the direct reader; anything
  // it does not recognise goes through the generic decoder for a precise error.
  if (opts.trusted) {
    const fast = readDirtreeDirect(bytes);
    if (fast !== undefined) {
      assertUniqueNames(fast.files.map((f) => f.name), fast.dirs.map((d) => d.name));
      return fast;
    }
  }
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
  for (const list of [files, dirs]) {
    for (const n of list) {
      if (seen.has(n)) throw new OtError('ERR_UNSAFE_PATH', `Duplicate name '${n}' in dirtree`, { path: n });
      seen.add(n);
    }
  }
}

/** Little-endian unsigned integer of `width` bytes (0, 1, 2 or 4) at `at`. */
function readOffset(b: Uint8Array, at: number, width: number): number {
  switch (width) {
    case 1: return b[at] as number;
    case 2: return (b[at] as number) | ((b[at + 1] as number) << 8);
    case 4: return ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16)) + (b[at + 3] as number) * 0x1000000;
    default: return 0;
  }
}

function width(size: number): number {
  return size === 0 ? 0 : size <= 0xff ? 1 : size <= 0xffff ? 2 : 4;
}

/**
 * The element boundaries of a GVariant array of variable-size elements in
 * b[start, end): the framing offsets table at its end. undefined when malformed.
 */
function arrayBounds(b: Uint8Array, start: number, end: number): number[] | undefined {
  const size = end - start;
  if (size === 0) return [];
  const w = width(size);
  const tableStart = start + readOffset(b, end - w, w);
  // A non-empty array has at least one framing offset: the last one.
  if (tableStart >= end || (end - tableStart) % w !== 0) return undefined;
  const ends: number[] = [];
  let prev = start;
  for (let at = tableStart; at < end; at += w) {
    const e = start + readOffset(b, at, w);
    if (e < prev || e > tableStart) return undefined;
    ends.push(e);
    prev = e;
  }
  return ends;
}


/**
 * Direct reader for (a(say)a(sayay)): walks the framing offsets without the
 * generic decoder's intermediate values (bench/deploy.ts: ~3x faster on a
 * Debian tree). Returns undefined on anything unexpected; never throws on
 * malformed bytes, never reads outside `bytes`.
 */
export function readDirtreeDirect(bytes: Uint8Array): Dirtree | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = b.length;
  const w = width(n);
  if (n < w) return undefined;
  const filesEnd = n === 0 ? 0 : readOffset(b, n - w, w);
  const dirsEnd = n - w;
  if (filesEnd > dirsEnd) return undefined;
  const fileEnds = arrayBounds(b, 0, filesEnd);
  const dirEnds = arrayBounds(b, filesEnd, dirsEnd);
  if (fileEnds === undefined || dirEnds === undefined) return undefined;
  const files: DirtreeFile[] = [];
  let start = 0;
  for (const end of fileEnds) {
    const ew = width(end - start);
    if (end - start < ew + 33) return undefined;
    const nameEnd = start + readOffset(b, end - ew, ew);
    if (nameEnd + 32 !== end - ew) return undefined;
    const name = nameAt(b, start, nameEnd);
    if (name === undefined) return undefined;
    validateFilename(name, `file ${files.length} in dirtree`);
    files.push({ name, checksum: b.toString('hex', nameEnd, nameEnd + 32) as Checksum });
    start = end;
  }
  const dirs: DirtreeDir[] = [];
  start = filesEnd;
  for (const end of dirEnds) {
    const ew = width(end - start);
    if (end - start < 2 * ew + 65) return undefined;
    const nameEnd = start + readOffset(b, end - ew, ew);
    const treeEnd = start + readOffset(b, end - 2 * ew, ew);
    if (treeEnd !== nameEnd + 32 || treeEnd + 32 !== end - 2 * ew) return undefined;
    const name = nameAt(b, start, nameEnd);
    if (name === undefined) return undefined;
    validateFilename(name, `dir ${dirs.length} in dirtree`);
    dirs.push({ name, dirtree: b.toString('hex', nameEnd, treeEnd) as Checksum, dirmeta: b.toString('hex', treeEnd, treeEnd + 32) as Checksum });
    start = end;
  }
  return { files, dirs };
}
