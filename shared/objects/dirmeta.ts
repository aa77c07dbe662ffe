// dirmeta objects: (uuua(ayay)) — uid, gid, mode big-endian, then xattrs
// (objects.md §5). The same layout is bare-user's user.ostreemeta xattr.
import { OtError } from '../errors.js';
import { decode, encode } from '../gvariant/index.js';
import { bswap32 } from './bswap.js';
import { xattrsFromValue, xattrsToValue, type Xattr } from './xattrs.js';

/**
 * | field | type | meaning |
 * |---|---|---|
 * | uid | u (BE) | owner |
 * | gid | u (BE) | group |
 * | mode | u (BE) | full st_mode, S_IFDIR for dirmeta |
 * | xattrs | a(ayay) | sorted by name, name includes NUL |
 */
export const DIRMETA_FORMAT = '(uuua(ayay))';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** Ownership, mode and xattrs: a dirmeta, or the metadata part of a content object. */
export interface FileMeta {
  uid: number;
  gid: number;
  mode: number;
  xattrs: Xattr[];
}

/** Serialise a dirmeta (or user.ostreemeta). Pure. */
export function encodeDirmeta(meta: FileMeta): Uint8Array {
  if (meta.xattrs.length === 0) {
    // Three big-endian u32 and an empty array (no framing offset: it is the last member).
    const out = Buffer.alloc(12);
    out.writeUInt32BE(meta.uid >>> 0, 0);
    out.writeUInt32BE(meta.gid >>> 0, 4);
    out.writeUInt32BE(meta.mode >>> 0, 8);
    return new Uint8Array(out.buffer, out.byteOffset, 12);
  }
  return encode(DIRMETA_FORMAT, [bswap32(meta.uid), bswap32(meta.gid), bswap32(meta.mode), xattrsToValue(meta.xattrs)]);
}

/** Parse `(uuua(ayay))` without checking the mode. Throws ERR_BAD_FORMAT / ERR_NOT_NORMAL_FORM. */
export function decodeFileMeta(bytes: Uint8Array, opts: { trusted?: boolean } = {}): FileMeta {
  const [uid, gid, mode, xattrs] = decode(DIRMETA_FORMAT, bytes, opts) as [number, number, number, unknown];
  return { uid: bswap32(uid), gid: bswap32(gid), mode: bswap32(mode), xattrs: xattrsFromValue(xattrs as never) };
}

/** Parse and validate a dirmeta: the mode must be a directory with no bits outside S_IFMT|07777. */
export function decodeDirmeta(bytes: Uint8Array, opts: { trusted?: boolean } = {}): FileMeta {
  const meta = decodeFileMeta(bytes, opts);
  if ((meta.mode & S_IFMT) !== S_IFDIR || (meta.mode & ~(S_IFMT | 0o7777)) !== 0) {
    throw new OtError('ERR_BAD_FORMAT', `Invalid directory metadata mode 0${meta.mode.toString(8)}`, { objectType: 'dirmeta' });
  }
  return meta;
}
