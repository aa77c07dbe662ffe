// commit objects: (a{sv}aya(say)sstayay) (objects.md §2).
import { OtError } from '../errors.js';
import { decode, encode, Variant, type Vardict } from '../gvariant/index.js';
import { bswap64 } from './bswap.js';
import { checksumFromBytes, checksumToBytes, checksumOf, type Checksum } from './checksum.js';

/**
 * | # | field | type | meaning |
 * |---|---|---|---|
 * | 0 | metadata | a{sv} | version, ostree.ref-binding, vendor keys (order as stored) |
 * | 1 | parent | ay | 32-byte parent commit checksum, or empty for a root commit |
 * | 2 | related | a(say) | historical, always empty |
 * | 3 | subject | s | one line |
 * | 4 | body | s | free text |
 * | 5 | timestamp | t (BE) | seconds since the epoch, UTC |
 * | 6 | root dirtree | ay | 32 bytes |
 * | 7 | root dirmeta | ay | 32 bytes |
 */
export const COMMIT_FORMAT = '(a{sv}aya(say)sstayay)';

export interface Commit {
  metadata: Vardict;
  parent: Checksum | null;
  related: readonly (readonly [string, Uint8Array])[];
  subject: string;
  body: string;
  timestamp: bigint;
  rootDirtree: Checksum;
  rootDirmeta: Checksum;
}

/** Serialise a commit. Pure. */
export function encodeCommit(c: Commit): Uint8Array {
  return encode(COMMIT_FORMAT, [
    c.metadata.map(([k, v]) => [k, v]),
    c.parent === null ? new Uint8Array(0) : checksumToBytes(c.parent),
    c.related.map(([n, b]) => [n, b]),
    c.subject,
    c.body,
    bswap64(c.timestamp),
    checksumToBytes(c.rootDirtree),
    checksumToBytes(c.rootDirmeta),
  ]);
}

/** Parse and validate a commit. Throws ERR_BAD_FORMAT / ERR_NOT_NORMAL_FORM. Pure. */
export function decodeCommit(bytes: Uint8Array, opts: { trusted?: boolean } = {}): Commit {
  const [meta, parent, related, subject, body, ts, tree, dirmeta] = decode(COMMIT_FORMAT, bytes, opts) as [
    [string, Variant][], Uint8Array, [string, Uint8Array][], string, string, bigint, Uint8Array, Uint8Array,
  ];
  for (const [k] of meta) {
    if (k === '') throw new OtError('ERR_BAD_FORMAT', 'Empty metadata key in commit', { objectType: 'commit' });
  }
  return {
    metadata: meta.map(([k, v]) => [k, v] as const),
    parent: parent.length === 0 ? null : checksumFromBytes(parent, 'parent commit checksum'),
    related: related.map(([n, b]) => [n, b] as const),
    subject,
    body,
    timestamp: bswap64(ts),
    rootDirtree: checksumFromBytes(tree, 'root dirtree checksum'),
    rootDirmeta: checksumFromBytes(dirmeta, 'root dirmeta checksum'),
  };
}

/** `ContentChecksum` as `ostree show` prints it: SHA-256(root dirtree ‖ root dirmeta). Pure. */
export function contentChecksum(c: Commit): Checksum {
  return checksumOf(checksumToBytes(c.rootDirtree), checksumToBytes(c.rootDirmeta));
}

/** Build a `{sv}` entry list from (key, type, value) triples, in the given order. */
export function vardict(entries: readonly (readonly [string, Variant])[]): Vardict {
  return entries.map(([k, v]) => [k, v] as const);
}

export { Variant };
