// bspatch for the raw mendsley/bsdiff stream static deltas embed: repeated
// (x, y, z) 8-byte sign-magnitude control words, x diff bytes added to the
// old data, y extra bytes copied, old position += x + z (static-deltas.md §5).
// Pure and bounded: output is exactly `size` bytes or ERR_BAD_FORMAT.
import { OtError, isOtError } from '../errors.js';
import { nativeSys } from '../native/sys.js';

function offtin(buf: Uint8Array, pos: number): number {
  let y = buf[pos + 7]! & 0x7f;
  for (let i = 6; i >= 0; i--) y = y * 256 + buf[pos + i]!;
  return (buf[pos + 7]! & 0x80) !== 0 ? -y : y;
}

export function bspatch(old: Uint8Array, patch: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let newPos = 0;
  let oldPos = 0;
  let p = 0;
  const bad = (why: string): never => { throw new OtError('ERR_BAD_FORMAT', `Corrupt bsdiff patch: ${why}`, { offset: p }); };
  while (newPos < size) {
    if (p + 24 > patch.length) bad('truncated control block');
    const x = offtin(patch, p);
    const y = offtin(patch, p + 8);
    const z = offtin(patch, p + 16);
    p += 24;
    if (x < 0 || y < 0 || newPos + x > size || p + x > patch.length) bad('diff length out of range');
    for (let i = 0; i < x; i++) {
      const o = oldPos + i;
      out[newPos + i] = (patch[p + i]! + (o >= 0 && o < old.length ? old[o]! : 0)) & 0xff;
    }
    p += x;
    newPos += x;
    oldPos += x;
    if (newPos + y > size || p + y > patch.length) bad('extra length out of range');
    out.set(patch.subarray(p, p + y), newPos);
    p += y;
    newPos += y;
    oldPos += z;
  }
  return out;
}

/**
 * bspatch on the thread pool when the native helper is there (native/bsdiff.c:
 * same bounds and verdicts), else here. Keeps a delta pull's main thread free.
 */
export async function bspatchAsync(old: Uint8Array, patch: Uint8Array, size: number): Promise<Uint8Array> {
  const native = nativeSys();
  if (native === null) return bspatch(old, patch, size);
  try {
    return await native.bspatch(old, patch, size);
  } catch (err: unknown) {
    if (!isOtError(err) && (err as { code?: string }).code === 'ERR_BAD_FORMAT') throw new OtError('ERR_BAD_FORMAT', (err as Error).message);
    throw err;
  }
}
