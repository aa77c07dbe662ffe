// Detached signatures in commitmeta and summary.sig: one `aay` per system
// under its key (ostree.gpgsigs, ostree.sign.ed25519), appended to (signing.md §1). Pure.
import { OtError } from '../errors.js';
import { Variant, decode, encode, type Vardict } from '../gvariant/index.js';

/** Metadata keys of the signature systems. */
export const GPG_KEY = 'ostree.gpgsigs';
export const ED25519_KEY = 'ostree.sign.ed25519';

/** Parse a commitmeta / summary.sig `a{sv}`; empty input is an empty dict. */
export function decodeDetached(bytes: Uint8Array | null): Vardict {
  if (bytes === null || bytes.length === 0) return [];
  return (decode('a{sv}', bytes) as [string, Variant][]).map(([k, v]) => [k, v] as const);
}

export function encodeDetached(dict: Vardict): Uint8Array {
  return encode('a{sv}', dict.map(([k, v]) => [k, v]));
}

/** The signatures stored under `key` (an `aay`); [] when absent. Throws ERR_BAD_FORMAT for a wrong type. */
export function signaturesOf(dict: Vardict, key: string): Uint8Array[] {
  const v = dict.find(([k]) => k === key)?.[1];
  if (v === undefined) return [];
  if (v.type !== 'aay') throw new OtError('ERR_BAD_FORMAT', `${key} has type ${v.type}, expected aay`);
  return [...(v.value as Uint8Array[])];
}

/** A copy of `dict` with `sigs` appended under `key` (other keys kept in place). */
export function withSignatures(dict: Vardict, key: string, sigs: readonly Uint8Array[]): Vardict {
  const merged = new Variant('aay', [...signaturesOf(dict, key), ...sigs]);
  return dict.some(([k]) => k === key) ? dict.map(([k, v]) => [k, k === key ? merged : v] as const) : [...dict, [key, merged] as const];
}

/** A copy of `dict` with signatures under `key` filtered by `keep`. */
export function filterSignatures(dict: Vardict, key: string, keep: (sig: Uint8Array) => boolean): Vardict {
  return dict.map(([k, v]) => [k, k === key ? new Variant('aay', signaturesOf(dict, key).filter(keep)) : v] as const);
}
