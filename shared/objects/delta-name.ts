// Static delta names and paths: modified base64 of the 32 checksum bytes —
// standard base64, no '=' padding, '/' replaced by '_' ('+' kept)
// (repo-layout.md §7). Pure.
import { OtError } from '../errors.js';
import { checksumFromBytes, checksumToBytes, type Checksum } from './checksum.js';

export function toModifiedBase64(csum: Checksum): string {
  return Buffer.from(checksumToBytes(csum)).toString('base64').replace(/=+$/, '').replace(/\//g, '_');
}

export function fromModifiedBase64(text: string): Checksum {
  if (!/^[A-Za-z0-9+_]{43}$/.test(text)) throw new OtError('ERR_BAD_FORMAT', `Invalid modified base64 checksum '${text.slice(0, 60)}'`);
  return checksumFromBytes(new Uint8Array(Buffer.from(text.replace(/_/g, '/'), 'base64')));
}

/** Repo-relative directory of a delta: deltas/XX/REST for a scratch delta, deltas/XX/REST-TO for FROM→TO. */
export function deltaDir(from: Checksum | null, to: Checksum, root: DeltaRoot = 'deltas'): string {
  const t = toModifiedBase64(to);
  if (from === null) return `${root}/${t.slice(0, 2)}/${t.slice(2)}`;
  const f = toModifiedBase64(from);
  return `${root}/${f.slice(0, 2)}/${f.slice(2)}-${t}`;
}

/**
 * Where deltas live: `deltas/` (xz or uncompressed, what stock clients read)
 * or `deltas-zstd/`, our parallel tree of zstd deltas, which stock clients
 * never look at (advertised only by the summary key ots.static-deltas-zstd).
 */
export type DeltaRoot = 'deltas' | 'deltas-zstd';

/** Summary metadata key advertising zstd deltas (ignored by stock clients). */
export const ZSTD_DELTAS_SUMMARY_KEY = 'ots.static-deltas-zstd';

/** The delta name used in summaries: `TO` or `FROM-TO` in hex. */
export function deltaName(from: Checksum | null, to: Checksum): string {
  return from === null ? to : `${from}-${to}`;
}
