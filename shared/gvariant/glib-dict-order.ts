// GLib's GVariantDict keeps entries in a GHashTable and writes them in bucket
// order, so `ostree commit` and `ostree summary -u` emit a{sv} keys in an
// order that depends on the keys' hashes. To produce byte-identical commits we
// reproduce that order: g_str_hash (djb2 over signed chars), index
// (hash * 11) % prime, quadratic probing, power-of-two tables that grow as
// GLib's g_hash_table_maybe_resize does (GLib 2.74, checked against PyGObject
// in test/unit/gvariant/glib-dict-order.test.ts).

const MIN_SHIFT = 3;
const PRIME_MOD = [
  1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
  262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393, 67108859, 134217689,
  268435399, 536870909, 1073741789, 2147483647,
];

/** GLib's g_str_hash: djb2 over the UTF-8 bytes taken as signed chars, in uint32. Pure. */
export function gStrHash(key: string): number {
  let h = 5381;
  for (const byte of Buffer.from(key, 'utf8')) {
    const signed = byte > 127 ? byte - 256 : byte;
    h = (Math.imul(h, 33) + signed) >>> 0;
  }
  return h;
}

interface Table { shift: number; keys: (string | undefined)[]; hashes: number[] }

function indexFor(t: Table, hash: number): number {
  const mod = PRIME_MOD[t.shift] ?? 1;
  return (Math.imul(hash, 11) >>> 0) % mod;
}

function insert(t: Table, key: string, hash: number): void {
  const mask = (1 << t.shift) - 1;
  let index = indexFor(t, hash);
  let step = 0;
  while (t.keys[index] !== undefined) {
    step++;
    index = (index + step) & mask;
  }
  t.keys[index] = key;
  t.hashes[index] = hash;
}

/** Grow in place exactly like GLib's resize_map: evict-and-relocate with a "relocated" bitmap. */
function grow(t: Table, nnodes: number): void {
  const oldSize = t.keys.length;
  let shift = 0;
  for (let v = Math.floor(nnodes * 1.333); v; v >>= 1) shift++;
  t.shift = Math.max(shift, MIN_SHIFT);
  const size = 1 << t.shift;
  const mask = size - 1;
  while (t.keys.length < size) { t.keys.push(undefined); t.hashes.push(0); }
  const relocated = new Array<boolean>(size).fill(false);
  for (let i = 0; i < oldSize; i++) {
    let key = t.keys[i];
    if (key === undefined || relocated[i]) continue;
    let hash = t.hashes[i] ?? 2;
    t.keys[i] = undefined;
    for (;;) {
      let index = indexFor(t, hash);
      let step = 0;
      while (relocated[index]) {
        step++;
        index = (index + step) & mask;
      }
      relocated[index] = true;
      const displacedKey: string | undefined = t.keys[index];
      const displacedHash = t.hashes[index] ?? 2;
      t.keys[index] = key;
      t.hashes[index] = hash;
      if (displacedKey === undefined) break;
      key = displacedKey;
      hash = displacedHash;
    }
  }
}

/**
 * The order in which a GVariantDict built by inserting `keys` (in this order;
 * a repeated key keeps its first slot) serialises its entries. Pure.
 */
export function glibDictOrder(keys: readonly string[]): string[] {
  const t: Table = { shift: MIN_SHIFT, keys: new Array<string | undefined>(1 << MIN_SHIFT).fill(undefined), hashes: new Array<number>(1 << MIN_SHIFT).fill(0) };
  let n = 0;
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) continue;
    seen.add(key);
    const h = gStrHash(key);
    insert(t, key, h < 2 ? 2 : h);
    n++;
    if (t.keys.length <= n + Math.floor(n / 16)) grow(t, n);
  }
  return t.keys.filter((k): k is string => k !== undefined);
}
