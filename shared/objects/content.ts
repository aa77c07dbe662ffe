// Content (file) objects: the hashed stream u32 BE header length ‖ 4 zero
// bytes ‖ (uuuusa(ayay)) ‖ payload, and the archive header (tuuuusa(ayay))
// that .filez files start with (objects.md §3, repo-layout.md §3).
import { OtError } from '../errors.js';
import { decode, encode } from '../gvariant/index.js';
import { bswap32, bswap64 } from './bswap.js';
import { S_IFLNK, S_IFMT, S_IFREG, type FileMeta } from './dirmeta.js';
import { xattrsFromValue, xattrsToValue } from './xattrs.js';
import { nameAt } from './gv-string.js';

/** Header hashed into the content checksum: uid, gid, mode, rdev (BE), symlink target, xattrs. */
export const FILE_HEADER_FORMAT = '(uuuusa(ayay))';
/** Header of a .filez: uncompressed size (BE t), then as FILE_HEADER_FORMAT. */
export const ARCHIVE_HEADER_FORMAT = '(tuuuusa(ayay))';

/** Everything a content object records except the payload. */
export interface FileHeader extends FileMeta {
  /** Symlink target; empty for regular files. */
  symlinkTarget: string;
}

/** Validate the mode of a content object: a regular file or symlink with no stray bits. */
export function validateFileMode(mode: number): void {
  const type = mode & S_IFMT;
  if ((type !== S_IFREG && type !== S_IFLNK) || (mode & ~(S_IFMT | 0o7777)) !== 0) {
    throw new OtError('ERR_BAD_FORMAT', `Corrupted file object; invalid mode 0${mode.toString(8)}`, { objectType: 'file' });
  }
}

function prefixed(gv: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + gv.length);
  new DataView(out.buffer).setUint32(0, gv.length, false);
  out.set(gv, 8);
  return out;
}

function headerTuple(h: FileHeader): unknown[] {
  return [bswap32(h.uid), bswap32(h.gid), bswap32(h.mode), 0, h.symlinkTarget, xattrsToValue(h.xattrs)];
}

/** The bytes that precede the payload in the hashed content stream. Pure. */
export function encodeFileHeader(h: FileHeader): Uint8Array {
  if (h.xattrs.length === 0) return fileHeaderDirect(h);
  return prefixed(encode(FILE_HEADER_FORMAT, headerTuple(h) as never));
}

/**
 * encodeFileHeader for a header without xattrs (nearly every file of an OS
 * tree), written directly: 4 big-endian u32 (rdev 0), the NUL-terminated
 * target, the empty a(ayay), and the one framing offset (the end of the
 * string) in the width GVariant picks for the total size. The same bytes as
 * the generic encoder (test/unit/objects).
 */
function fileHeaderDirect(h: FileHeader): Uint8Array {
  const target = Buffer.from(h.symlinkTarget, 'utf8');
  const end = 16 + target.length + 1;
  const w = end + 1 <= 0xff ? 1 : end + 2 <= 0xffff ? 2 : 4;
  const out = Buffer.alloc(8 + end + w);
  out.writeUInt32BE(end + w, 0);
  out.writeUInt32BE(h.uid >>> 0, 8);
  out.writeUInt32BE(h.gid >>> 0, 12);
  out.writeUInt32BE(h.mode >>> 0, 16);
  target.copy(out, 24);
  out.writeUIntLE(end, 8 + end, w);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * A canonical (tuuuusa(ayay)) with no xattrs read in place: [size, uid, gid,
 * mode, rdev, target, []] as the generic decoder returns them (size and the
 * u32s still byte-swapped), or undefined for anything else — xattrs, another
 * layout — which the generic decoder then parses or rejects. Pure.
 */
function archiveHeaderDirect(gv: Uint8Array): unknown[] | undefined {
  const n = gv.length;
  const w = n <= 0xff ? 1 : n <= 0xffff ? 2 : 4;
  if (n < 24 + 1 + w) return undefined;
  const b = Buffer.from(gv.buffer, gv.byteOffset, n);
  const end = b.readUIntLE(n - w, w);
  // The string ends where the (empty) xattr array starts, right before the offset.
  if (end !== n - w || end < 25) return undefined;
  const target = nameAt(b, 24, end);
  if (target === undefined) return undefined;
  return [b.readBigUInt64LE(0), b.readUInt32LE(8), b.readUInt32LE(12), b.readUInt32LE(16), b.readUInt32LE(20), target, []];
}

/** The header of a .filez for a payload of `size` bytes (0 for symlinks). Pure. */
export function encodeArchiveHeader(h: FileHeader, size: bigint): Uint8Array {
  return prefixed(encode(ARCHIVE_HEADER_FORMAT, [bswap64(size), ...headerTuple(h)] as never));
}

/** A parsed length-prefixed header and where the payload starts. */
export interface ParsedHeader {
  header: FileHeader;
  /** Uncompressed payload size (archive headers only; null for the hashed form). */
  size: bigint | null;
  /** Offset of the first payload byte. */
  payloadOffset: number;
}

function readPrefixed(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length < 8) throw new OtError('ERR_BAD_FORMAT', `${what}: truncated header (${bytes.length} bytes)`, { offset: 0 });
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false);
  if (len === 0) throw new OtError('ERR_BAD_FORMAT', `${what}: file header size is zero`, { offset: 0 });
  if (8 + len > bytes.length) {
    throw new OtError('ERR_BAD_FORMAT', `${what}: file header size ${len} exceeds size ${bytes.length - 8}`, { offset: 0 });
  }
  return bytes.subarray(8, 8 + len);
}

function headerFrom(t: unknown[]): FileHeader {
  const [uid, gid, mode, rdev, target, xattrs] = t as [number, number, number, number, string, never];
  if (rdev !== 0) throw new OtError('ERR_BAD_FORMAT', 'Corrupted archive file; invalid rdev', { objectType: 'file' });
  const header: FileHeader = {
    uid: bswap32(uid), gid: bswap32(gid), mode: bswap32(mode), symlinkTarget: target, xattrs: xattrsFromValue(xattrs),
  };
  validateFileMode(header.mode);
  const isLink = (header.mode & S_IFMT) === S_IFLNK;
  if (isLink !== (target !== '')) {
    throw new OtError('ERR_BAD_FORMAT', 'Corrupted file object; symlink target does not match mode', { objectType: 'file' });
  }
  return header;
}

/**
 * Parse the start of a .filez. Throws ERR_BAD_FORMAT / ERR_NOT_NORMAL_FORM.
 * `generic`: skip the direct reader (tests compare the two). Pure.
 */
export function decodeArchiveHeader(bytes: Uint8Array, opts: { generic?: boolean } = {}): ParsedHeader {
  const gv = readPrefixed(bytes, 'archive content object');
  const [size, ...rest] = ((opts.generic ? undefined : archiveHeaderDirect(gv)) ?? decode(ARCHIVE_HEADER_FORMAT, gv)) as [bigint, ...unknown[]];
  const header = headerFrom(rest);
  const realSize = bswap64(size);
  if ((header.mode & S_IFMT) === S_IFLNK && realSize !== 0n) {
    throw new OtError('ERR_BAD_FORMAT', 'Corrupted archive file; symlink with a payload size', { objectType: 'file' });
  }
  return { header, size: realSize, payloadOffset: 8 + gv.length };
}

/** Parse the start of a hashed content stream (as in static deltas and `ostree checksum`). Pure. */
export function decodeFileHeader(bytes: Uint8Array): ParsedHeader {
  const gv = readPrefixed(bytes, 'content object');
  const header = headerFrom(decode(FILE_HEADER_FORMAT, gv) as unknown[]);
  return { header, size: null, payloadOffset: 8 + gv.length };
}

/** True for a symlink header. */
export function isSymlink(h: FileMeta): boolean {
  return (h.mode & S_IFMT) === S_IFLNK;
}
