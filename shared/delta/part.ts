// Delta part files and payloads (static-deltas.md §3–§4). Pure.
import { OtError } from '../errors.js';
import { decode, encode, type Value } from '../gvariant/index.js';
import { bswap32, xattrsFromValue, xattrsToValue, type Xattr } from '../objects/index.js';

/**
 * | # | field | type | meaning |
 * |---|---|---|---|
 * | 0 | modes | a(uuu) | (uid, gid, mode), big-endian |
 * | 1 | xattrs | aa(ayay) | xattr sets |
 * | 2 | payload | ay | raw data blob |
 * | 3 | ops | ay | opcode stream |
 */
export const PART_PAYLOAD_FORMAT = '(a(uuu)aa(ayay)ayay)';

/** Compression byte of a part file: 0 none, 'x' xz (stock readers), 'z' zstd (our extension, published under deltas-zstd/ only). */
export type PartCompression = 'none' | 'xz' | 'zstd';

export const COMPRESSION_BYTE: Record<PartCompression, number> = { none: 0, xz: 0x78, zstd: 0x7a };

export interface PartPayload {
  modes: { uid: number; gid: number; mode: number }[];
  xattrs: Xattr[][];
  payload: Uint8Array;
  ops: Uint8Array;
}

/** Split a part file into its compression and the compressed bytes. */
export function splitPartFile(bytes: Uint8Array): { compression: PartCompression; data: Uint8Array } {
  if (bytes.length === 0) throw new OtError('ERR_BAD_FORMAT', 'Empty delta part');
  const c = bytes[0];
  const compression = c === 0 ? 'none' : c === 0x78 ? 'xz' : c === 0x7a ? 'zstd' : undefined;
  if (compression === undefined) throw new OtError('ERR_BAD_FORMAT', `Invalid compression type ${c} in delta part`, { offset: 0 });
  return { compression, data: bytes.subarray(1) };
}

export function decodePartPayload(bytes: Uint8Array): PartPayload {
  // No normal-form re-encoding: a part is identified by the checksum of its file, never by its
  // payload's serialisation, and executePart bounds-checks every field it uses (a re-encode of an 8 MiB payload cost ~50 ms).
  const [modes, xattrs, payload, ops] = decode(PART_PAYLOAD_FORMAT, bytes, { trusted: true }) as [[number, number, number][], Value[], Uint8Array, Uint8Array];
  return {
    modes: modes.map(([u, g, m]) => ({ uid: bswap32(u), gid: bswap32(g), mode: bswap32(m) })),
    xattrs: xattrs.map((x) => xattrsFromValue(x)),
    payload,
    ops,
  };
}

export function encodePartPayload(p: PartPayload): Uint8Array {
  return encode(PART_PAYLOAD_FORMAT, [
    p.modes.map((m) => [bswap32(m.uid), bswap32(m.gid), bswap32(m.mode)]),
    p.xattrs.map((x) => xattrsToValue(x)),
    p.payload,
    p.ops,
  ]);
}
