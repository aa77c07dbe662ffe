// The direct content-header paths (no xattrs: nearly every file) against the
// generic GVariant encoder/decoder: encodeFileHeader and encodeDirmeta give
// the same bytes; decodeArchiveHeader gives the same result or the same
// verdict on canonical, boundary-sized and mutated headers.
import { describe, expect, it } from 'vitest';
import { encode } from '../../../shared/gvariant/index.js';
import {
  DIRMETA_FORMAT, FILE_HEADER_FORMAT, bswap32, decodeArchiveHeader, encodeArchiveHeader, encodeDirmeta, encodeFileHeader,
  type FileHeader,
} from '../../../shared/objects/index.js';

function prefixed(gv: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + gv.length);
  new DataView(out.buffer).setUint32(0, gv.length, false);
  out.set(gv, 8);
  return out;
}

/** What the generic encoder writes for `h`. */
function generic(h: FileHeader): Uint8Array {
  return prefixed(encode(FILE_HEADER_FORMAT, [bswap32(h.uid), bswap32(h.gid), bswap32(h.mode), 0, h.symlinkTarget, []] as never));
}

// Target lengths around the framing-offset width changes (255 and 65535 bytes in all).
const lengths = [0, 1, 100, 236, 237, 238, 239, 240, 300, 65_000, 65_515, 65_516, 65_517, 65_518, 70_000];

describe('content headers without xattrs', () => {
  it.each(lengths)('a %i-byte symlink target: the same file header and archive header as the generic encoder, decoded the same', (n) => {
    const target = 'é'.repeat(Math.floor(n / 2)) + 'x'.repeat(n % 2);
    const h: FileHeader = { uid: 1000, gid: 0x7fffffff, mode: n === 0 ? 0o100755 : 0o120777, symlinkTarget: n === 0 ? '' : target, xattrs: [] };
    expect(Buffer.from(encodeFileHeader(h)).equals(Buffer.from(generic(h)))).toBe(true);
    const archive = encodeArchiveHeader(h, n === 0 ? 12345n : 0n);
    const d = decodeArchiveHeader(archive);
    expect(d.header).toEqual(h);
    expect(decodeArchiveHeader(archive, { generic: true })).toEqual(d);
    expect(d.payloadOffset).toBe(archive.length);
  });

  it('dirmeta: the same bytes as the generic encoder', () => {
    for (const m of [{ uid: 0, gid: 0, mode: 0o40755 }, { uid: 0xffffffff, gid: 1, mode: 0o120777 }]) {
      expect(Buffer.from(encodeDirmeta({ ...m, xattrs: [] })).equals(Buffer.from(encode(DIRMETA_FORMAT, [bswap32(m.uid), bswap32(m.gid), bswap32(m.mode), []] as never)))).toBe(true);
    }
  });

  it('mutated archive headers: the direct reader agrees with the generic decoder on every one', () => {
    const base = encodeArchiveHeader({ uid: 0, gid: 0, mode: 0o120777, symlinkTarget: 'usr/lib/x86_64-linux-gnu/libc.so.6', xattrs: [] }, 0n);
    let seed = 11;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 3000; i++) {
      const m = Uint8Array.from(base);
      const k = 8 + Math.floor(rnd() * (m.length - 8));
      m[k] = i % 2 === 0 ? Math.floor(rnd() * 256) : (m[k] as number) ^ (1 << Math.floor(rnd() * 8));
      const a = attempt(() => decodeArchiveHeader(m));
      const b = attempt(() => decodeArchiveHeader(m, { generic: true }));
      expect({ i, k, a }).toEqual({ i, k, a: b });
    }
  });
});

function attempt<T>(f: () => T): T | string {
  try { return f(); } catch (e: unknown) { return (e as { code?: string }).code ?? 'error'; }
}
