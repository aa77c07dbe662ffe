// The summary file: (a(s(taya{sv}))a{sv}) — sorted refs with commit size
// (little-endian!), checksum and per-ref metadata, then repo metadata
// (summary.md). Pure.
import { OtError } from '../errors.js';
import { glibDictOrder } from '../gvariant/glib-dict-order.js';
import { Variant, decode, encode, type Vardict, type VardictEntry } from '../gvariant/index.js';
import { bswap64, checksumFromBytes, checksumToBytes, compareNames, type Checksum } from '../objects/index.js';

/**
 * | field | type | meaning |
 * |---|---|---|
 * | refs | a(s(taya{sv})) | sorted by strcmp: name, (commit size LE, commit checksum, per-ref metadata) |
 * | metadata | a{sv} | ostree.summary.* keys, ostree.static-deltas, vendor keys |
 */
export const SUMMARY_FORMAT = '(a(s(taya{sv}))a{sv})';

export interface SummaryRef {
  name: string;
  /** Size of the .commit object in bytes (a download limit for clients). */
  commitSize: bigint;
  checksum: Checksum;
  metadata: Vardict;
}

export interface Summary {
  refs: SummaryRef[];
  metadata: Vardict;
}

/** Per-ref metadata as `ostree summary -u` writes it (dict order, BE timestamp). */
export function summaryRefMetadata(timestamp: bigint, version: string | undefined): Vardict {
  const entries: VardictEntry[] = [];
  if (version !== undefined) entries.push(['ostree.commit.version', new Variant('s', version)]);
  entries.push(['ostree.commit.timestamp', new Variant('t', bswap64(timestamp))]);
  return inDictOrder(entries);
}

/** Reorder entries as a GVariantDict built by inserting them in order would serialise them. */
export function inDictOrder(entries: readonly VardictEntry[]): Vardict {
  const byKey = new Map(entries.map(([k, v]) => [k, v] as const));
  return glibDictOrder(entries.map(([k]) => k)).map((k) => [k, byKey.get(k) as Variant] as const);
}

/** Serialise a summary; refs are sorted here. */
export function encodeSummary(s: Summary): Uint8Array {
  const refs = [...s.refs].sort((a, b) => compareNames(a.name, b.name));
  return encode(SUMMARY_FORMAT, [
    refs.map((r) => [r.name, [r.commitSize, checksumToBytes(r.checksum), r.metadata.map(([k, v]) => [k, v])]]),
    s.metadata.map(([k, v]) => [k, v]),
  ]);
}

/** Parse a summary. Throws ERR_BAD_FORMAT / ERR_NOT_NORMAL_FORM. */
export function decodeSummary(bytes: Uint8Array): Summary {
  const [refs, meta] = decode(SUMMARY_FORMAT, bytes) as [[string, [bigint, Uint8Array, [string, Variant][]]][], [string, Variant][]];
  return {
    refs: refs.map(([name, [size, csum, m]]) => {
      if (name === '') throw new OtError('ERR_BAD_FORMAT', 'Empty ref name in summary');
      return { name, commitSize: size, checksum: checksumFromBytes(csum, `summary checksum of ${name}`), metadata: m.map(([k, v]) => [k, v] as const) };
    }),
    metadata: meta.map(([k, v]) => [k, v] as const),
  };
}

/** Binary search a ref in a (sorted) summary, as clients do. */
export function findSummaryRef(s: Summary, name: string): SummaryRef | undefined {
  let lo = 0;
  let hi = s.refs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = s.refs[mid] as SummaryRef;
    const c = compareNames(r.name, name);
    if (c === 0) return r;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
