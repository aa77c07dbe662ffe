// The static-delta superblock (static-deltas.md §2). Pure.
import { OtError } from '../errors.js';
import { Variant, decode, encode, type Value, type Vardict } from '../gvariant/index.js';
import { COMMIT_FORMAT, bswap64, checksumFromBytes, checksumToBytes, type Checksum, type ObjectType } from '../objects/index.js';

/**
 * | # | field | type | meaning |
 * |---|---|---|---|
 * | 0 | metadata | a{sv} | ostree.endianness, inline parts, commitmeta |
 * | 1 | timestamp | t (BE) | generation time |
 * | 2 | from | ay | 32 bytes, or empty for a scratch delta |
 * | 3 | to | ay | 32 bytes |
 * | 4 | commit | COMMIT_FORMAT | the TO commit, byte-identical |
 * | 5 | dependencies | ay | always empty |
 * | 6 | parts | a(uayttay) | version, part sha256, size, usize, objects (type+csum ×N); numbers in delta byte order |
 * | 7 | fallbacks | a(yaytt) | type, checksum, compressed size, uncompressed size |
 */
export const SUPERBLOCK_FORMAT = `(a{sv}tayay${COMMIT_FORMAT}aya(uayttay)a(yaytt))`;

const TYPE_BY_CODE: Record<number, ObjectType> = { 1: 'file', 2: 'dirtree', 3: 'dirmeta', 4: 'commit' };
export const CODE_BY_TYPE: Partial<Record<ObjectType, number>> = { file: 1, dirtree: 2, dirmeta: 3, commit: 4 };

export interface DeltaObject { type: ObjectType; checksum: Checksum }
export interface PartHeader { version: number; checksum: Checksum; size: bigint; usize: bigint; objects: DeltaObject[] }
export interface Fallback { type: ObjectType; checksum: Checksum; compressedSize: bigint; size: bigint }

export interface Superblock {
  metadata: Vardict;
  timestamp: bigint;
  from: Checksum | null;
  to: Checksum;
  /** The embedded commit as a GVariant value (re-encodes to the commit bytes). */
  commit: Value;
  parts: PartHeader[];
  fallbacks: Fallback[];
}

function swap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** Whether numbers in parts/fallbacks are big-endian (ostree.endianness = 'B'). */
function isBigEndian(metadata: Vardict): boolean {
  const e = metadata.find(([k]) => k === 'ostree.endianness')?.[1];
  return e?.type === 'y' && e.value === 0x42;
}

export function decodeObjectList(bytes: Uint8Array): DeltaObject[] {
  if (bytes.length % 33 !== 0) throw new OtError('ERR_BAD_FORMAT', `Delta object list of ${bytes.length} bytes is not a multiple of 33`);
  const out: DeltaObject[] = [];
  for (let i = 0; i < bytes.length; i += 33) {
    const type = TYPE_BY_CODE[bytes[i]!];
    if (type === undefined) throw new OtError('ERR_BAD_FORMAT', `Invalid object type ${bytes[i]} in delta object list`, { offset: i });
    out.push({ type, checksum: checksumFromBytes(bytes.subarray(i + 1, i + 33)) });
  }
  return out;
}

export function encodeObjectList(objects: readonly DeltaObject[]): Uint8Array {
  const out = new Uint8Array(objects.length * 33);
  objects.forEach((o, i) => {
    out[i * 33] = CODE_BY_TYPE[o.type] ?? 0;
    out.set(checksumToBytes(o.checksum), i * 33 + 1);
  });
  return out;
}

/** Parse a superblock. Throws ERR_BAD_FORMAT / ERR_NOT_NORMAL_FORM. */
export function decodeSuperblock(bytes: Uint8Array): Superblock {
  const [meta, ts, from, to, commit, , parts, fallbacks] = decode(SUPERBLOCK_FORMAT, bytes) as [
    [string, Variant][], bigint, Uint8Array, Uint8Array, Value, Uint8Array, [number, Uint8Array, bigint, bigint, Uint8Array][], [number, Uint8Array, bigint, bigint][],
  ];
  const metadata: Vardict = meta.map(([k, v]) => [k, v] as const);
  const be = isBigEndian(metadata);
  const n64 = (v: bigint) => (be ? bswap64(v) : v);
  return {
    metadata,
    timestamp: bswap64(ts),
    from: from.length === 0 ? null : checksumFromBytes(from, 'delta FROM'),
    to: checksumFromBytes(to, 'delta TO'),
    commit,
    parts: parts.map(([version, csum, size, usize, objects]) => {
      const v = be ? swap32(version) : version;
      if (v !== 0) throw new OtError('ERR_UNSUPPORTED', `Delta part format version ${v} is not supported`);
      return { version: v, checksum: checksumFromBytes(csum, 'delta part checksum'), size: n64(size), usize: n64(usize), objects: decodeObjectList(objects) };
    }),
    fallbacks: fallbacks.map(([type, csum, c, u]) => {
      const t = TYPE_BY_CODE[type];
      if (t === undefined) throw new OtError('ERR_BAD_FORMAT', `Invalid fallback object type ${type}`);
      return { type: t, checksum: checksumFromBytes(csum, 'fallback checksum'), compressedSize: n64(c), size: n64(u) };
    }),
  };
}

/** Serialise a superblock (little-endian numbers; callers put ostree.endianness = 'l' in metadata). */
export function encodeSuperblock(sb: Superblock): Uint8Array {
  return encode(SUPERBLOCK_FORMAT, [
    sb.metadata.map(([k, v]) => [k, v]),
    bswap64(sb.timestamp),
    sb.from === null ? new Uint8Array(0) : checksumToBytes(sb.from),
    checksumToBytes(sb.to),
    sb.commit,
    new Uint8Array(0),
    sb.parts.map((p) => [p.version, checksumToBytes(p.checksum), p.size, p.usize, encodeObjectList(p.objects)]),
    sb.fallbacks.map((f) => [CODE_BY_TYPE[f.type] ?? 0, checksumToBytes(f.checksum), f.compressedSize, f.size]),
  ]);
}

/** The commit bytes embedded in a superblock. */
export function superblockCommitBytes(sb: Superblock): Uint8Array {
  return encode(COMMIT_FORMAT, sb.commit);
}

export { Variant };
