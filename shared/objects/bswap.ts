// OSTree stores many numeric fields big-endian inside GVariants that GLib
// writes little-endian (gvariant.md §8). These swap between the two.

/** Swap the bytes of a uint32. Pure. */
export function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** Swap the bytes of a uint64. Pure. */
export function bswap64(v: bigint): bigint {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b.readBigUInt64BE();
}
