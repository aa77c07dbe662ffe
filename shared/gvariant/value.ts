// The value model for decoded GVariants: bigint for 64-bit integers,
// Uint8Array for `ay`, arrays for arrays and tuples, Variant for `v`.

/** A decoded or to-be-encoded GVariant value. */
export type Value =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | Variant
  | null
  | readonly Value[];

/** A `v`: a value together with its own type string. */
export class Variant {
  constructor(readonly type: string, readonly value: Value) {}
}

/** One `{sv}` entry of a vardict, in stored order. */
export type VardictEntry = readonly [key: string, value: Variant];

/** An `a{sv}` as an ordered list of entries (dict order is not canonical: keep it). */
export type Vardict = readonly VardictEntry[];

/** Look a key up in a vardict by name (dict keys are not sorted). */
export function vardictGet(dict: Vardict, key: string): Variant | undefined {
  for (const [k, v] of dict) if (k === key) return v;
  return undefined;
}
