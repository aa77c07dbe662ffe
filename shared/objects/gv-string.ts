// A NUL-terminated GVariant string read in place (the direct readers of
// dirtree.ts and content.ts). Pure.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A NUL-terminated name in b[start, end), or undefined (not NUL-terminated,
 * an inner NUL, invalid UTF-8). The caller validates it as a filename.
 */
export function nameAt(b: Buffer, start: number, end: number): string | undefined {
  if (end <= start || b[end - 1] !== 0) return undefined;
  let ascii = true;
  for (let i = start; i < end - 1; i++) {
    const c = b[i] as number;
    if (c === 0) return undefined;
    if (c >= 0x80) ascii = false;
  }
  // Plain ASCII (nearly every name) slices natively; anything else must be valid UTF-8.
  if (ascii) return b.toString('latin1', start, end - 1);
  try { return utf8.decode(b.subarray(start, end - 1)); } catch { return undefined; }
}
