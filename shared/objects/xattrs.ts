// Extended attributes as OSTree stores them: a(ayay), names with their
// trailing NUL, values raw, sorted by name (objects.md §3.3).
import type { Value } from '../gvariant/index.js';

/** One xattr: name without the NUL, raw value. */
export interface Xattr {
  name: string;
  value: Uint8Array;
}

/** Encode xattrs as the `a(ayay)` value, sorted byte-wise by name. Pure. */
export function xattrsToValue(xattrs: readonly Xattr[]): Value {
  const rows = xattrs.map((x) => [Buffer.from(`${x.name}\0`, 'utf8'), x.value] as const);
  rows.sort((a, b) => Buffer.compare(a[0], b[0]));
  return rows.map(([n, v]) => [new Uint8Array(n), v]);
}

/** Decode an `a(ayay)` value (accepting any order, as ostree does). Pure. */
export function xattrsFromValue(value: Value): Xattr[] {
  const out: Xattr[] = [];
  for (const row of value as readonly (readonly [Uint8Array, Uint8Array])[]) {
    const [name, v] = row;
    const end = name[name.length - 1] === 0 ? name.length - 1 : name.length;
    out.push({ name: Buffer.from(name.subarray(0, end)).toString('utf8'), value: v });
  }
  return out;
}
