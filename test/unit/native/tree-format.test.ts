// native/tree_format.c: the C dirtree and dirmeta parsers used by the native
// checkout and prune must accept exactly what the TypeScript readers accept
// (readDirtreeDirect, decodeDirmeta) and read the same entries — on encoder
// output, on every truncation and on random mutations — and never crash.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encode } from '../../../shared/gvariant/index.js';
import { nativeSys } from '../../../shared/native/sys.js';
import {
  DIRTREE_FORMAT, checksumOf, checksumToBytes, decodeDirmeta, encodeDirmeta, encodeDirtree, readDirtreeDirect, type Checksum, type Dirtree,
} from '../../../shared/objects/index.js';

const native = nativeSys();
const csum = (s: string): Checksum => checksumOf(Buffer.from(s));

/** A seeded generator, so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

function sampleTrees(): Dirtree[] {
  const long = 'n'.repeat(255);
  const many = Array.from({ length: 300 }, (_, i) => ({ name: `file-${String(i).padStart(4, '0')}`, checksum: csum(`f${i}`) }));
  return [
    { files: [], dirs: [] },
    { files: [{ name: 'a', checksum: csum('a') }], dirs: [] },
    { files: [], dirs: [{ name: 'etc', dirtree: csum('t'), dirmeta: csum('m') }] },
    { files: [{ name: 'ünïcödé ✓', checksum: csum('u') }, { name: long, checksum: csum('l') }], dirs: [{ name: 'd', dirtree: csum('t'), dirmeta: csum('m') }] },
    // Over 255 bytes per array and over 64 KiB in all: 2- and 4-byte framing offsets.
    { files: many, dirs: Array.from({ length: 40 }, (_, i) => ({ name: `${long.slice(0, 200)}${i}`, dirtree: csum(`t${i}`), dirmeta: csum(`m${i}`) })) },
    { files: Array.from({ length: 1200 }, (_, i) => ({ name: `${'x'.repeat(40)}${i}`, checksum: csum(`g${i}`) })), dirs: [] },
  ];
}

/** What the TypeScript reader makes of bytes: the entries, or 'rejected'. */
function tsView(bytes: Uint8Array): unknown {
  try {
    const t = readDirtreeDirect(bytes);
    if (t === undefined) return 'rejected';
    return { files: t.files.map((f) => [f.name, f.checksum]), dirs: t.dirs.map((d) => [d.name, d.dirtree, d.dirmeta]) };
  } catch {
    return 'rejected';
  }
}

function nativeView(bytes: Uint8Array): unknown {
  try {
    return native!.parseDirtree(bytes);
  } catch (err: unknown) {
    expect((err as { code?: string }).code).toBe('ERR_BAD_FORMAT');
    return 'rejected';
  }
}

describe('native dirtree parser', () => {
  it('is built (npm ci builds native/)', () => {
    expect(native).not.toBeNull();
  });

  it('reads what the encoder writes, as the TypeScript reader does', () => {
    for (const t of sampleTrees()) {
      const bytes = encodeDirtree(t);
      expect(nativeView(bytes)).toEqual(tsView(bytes));
      expect(nativeView(bytes)).not.toBe('rejected');
    }
  });

  it('rejects hostile names the TypeScript reader rejects', () => {
    for (const name of ['', '.', '..', 'a/b', '../x', 'x'.repeat(256)]) {
      const bytes = encode(DIRTREE_FORMAT, [[[name, checksumToBytes(csum('x'))]], []]);
      expect(nativeView(bytes), JSON.stringify(name.slice(0, 20))).toBe('rejected');
      expect(tsView(bytes)).toBe('rejected');
      const dirs = encode(DIRTREE_FORMAT, [[], [[name, checksumToBytes(csum('t')), checksumToBytes(csum('m'))]]]);
      expect(nativeView(dirs)).toBe('rejected');
    }
    // Invalid UTF-8 and an inner NUL.
    for (const raw of [Buffer.from([0x66, 0xff, 0x00]), Buffer.from([0x61, 0x00, 0x62, 0x00]), Buffer.from([0xed, 0xa0, 0x80, 0x00])]) {
      const entry = Buffer.concat([raw, checksumToBytes(csum('x')), Buffer.from([raw.length])]);
      const bytes = Buffer.concat([entry, Buffer.from([entry.length]), Buffer.from([entry.length + 1])]);
      expect(nativeView(bytes)).toBe('rejected');
      expect(tsView(bytes)).toBe('rejected');
    }
  });

  it('agrees with the TypeScript reader on every truncation and on random mutations', () => {
    const next = rng(20261205);
    let rejected = 0;
    for (const t of sampleTrees().slice(0, 5)) {
      const bytes = encodeDirtree(t);
      for (let n = 0; n < bytes.length; n += Math.max(1, Math.floor(bytes.length / 200))) {
        const cut = bytes.subarray(0, n);
        expect(nativeView(cut), `truncated to ${n}`).toEqual(tsView(cut));
      }
      for (let i = 0; i < 400; i++) {
        const m = Buffer.from(bytes);
        for (let k = 0; k < 1 + Math.floor(next() * 3); k++) m[Math.floor(next() * m.length)] = Math.floor(next() * 256);
        const view = nativeView(m);
        expect(view, `mutation ${i}`).toEqual(tsView(m));
        if (view === 'rejected') rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(100);
  });

  it('never crashes on random bytes', () => {
    for (let i = 0; i < 2000; i++) {
      const b = randomBytes(i % 97);
      expect(nativeView(b)).toEqual(tsView(b));
    }
  });
});

describe('native dirmeta parser', () => {
  const metas = [
    { uid: 0, gid: 0, mode: 0o40755, xattrs: [] },
    { uid: 1000, gid: 100, mode: 0o41777, xattrs: [{ name: 'security.selinux', value: Buffer.from('system_u:object_r:etc_t:s0\0') }] },
    { uid: 65534, gid: 65534, mode: 0o40700, xattrs: [{ name: 'user.a', value: Buffer.alloc(0) }, { name: 'user.b', value: Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff)) }] },
  ];
  const tsMeta = (b: Uint8Array): unknown => {
    try {
      const m = decodeDirmeta(b);
      return { uid: m.uid, gid: m.gid, mode: m.mode, xattrs: m.xattrs.map((x) => [x.name, Buffer.from(x.value)]) };
    } catch {
      return 'rejected';
    }
  };
  const nativeMeta = (b: Uint8Array): unknown => {
    try {
      const m = native!.parseDirmeta(b);
      return { ...m, xattrs: m.xattrs.map(([n, v]) => [n, Buffer.from(v)]) };
    } catch (err: unknown) {
      expect((err as { code?: string }).code).toBe('ERR_BAD_FORMAT');
      return 'rejected';
    }
  };

  it('reads what the encoder writes and rejects a non-directory mode', () => {
    for (const m of metas) expect(nativeMeta(encodeDirmeta(m))).toEqual(tsMeta(encodeDirmeta(m)));
    expect(nativeMeta(encodeDirmeta({ ...metas[0]!, mode: 0o100644 }))).toBe('rejected');
    expect(nativeMeta(new Uint8Array(11))).toBe('rejected');
  });

  it('rejects every malformed xattr table the TypeScript decoder rejects, and never crashes', () => {
    const next = rng(7);
    for (const m of metas.slice(1)) {
      const bytes = encodeDirmeta(m);
      for (let n = 12; n < bytes.length; n++) {
        const cut = bytes.subarray(0, n);
        // The native reader is stricter than GVariant's non-normal defaults: never more lenient.
        if (nativeMeta(cut) !== 'rejected') expect(nativeMeta(cut)).toEqual(tsMeta(cut));
      }
      for (let i = 0; i < 300; i++) {
        const b = Buffer.from(bytes);
        b[12 + Math.floor(next() * (b.length - 12))] = Math.floor(next() * 256);
        if (nativeMeta(b) !== 'rejected') expect(nativeMeta(b)).toEqual(tsMeta(b));
      }
    }
  });
});
