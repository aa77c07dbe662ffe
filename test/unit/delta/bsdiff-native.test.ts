// native/bsdiff.c: patches that bspatch turns back into the new file, byte for
// byte the stream node-bsdiff (mendsley's bsdiff) writes for the same inputs;
// and its bspatch, which must give the TypeScript bspatch's bytes and verdicts.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bspatch, bspatchAsync } from '../../../shared/delta/bspatch.js';
import { isOtError } from '../../../shared/errors.js';
import { lazyRequire } from '../../../shared/lazy-require.js';
import { nativeSys } from '../../../shared/native/sys.js';

const native = nativeSys();

function reference(old: Uint8Array, neu: Uint8Array): Buffer {
  const { native: nb } = lazyRequire<typeof import('node-bsdiff')>('node-bsdiff');
  const chunks: Buffer[] = [];
  nb.diff(Buffer.from(old), Buffer.from(neu), (c) => chunks.push(Buffer.from(c)));
  return Buffer.concat(chunks);
}

function cases(): [string, Uint8Array, Uint8Array][] {
  const out: [string, Uint8Array, Uint8Array][] = [
    ['both empty', Buffer.alloc(0), Buffer.alloc(0)],
    ['from empty', Buffer.alloc(0), Buffer.from('hello world')],
    ['to empty', Buffer.from('hello world'), Buffer.alloc(0)],
    ['one repeated byte', Buffer.alloc(200000, 7), Buffer.alloc(200001, 7)],
    ['periodic', Buffer.from('abcabcabd'.repeat(5000)), Buffer.from('abcabcabc'.repeat(5001))],
  ];
  for (let i = 0; i < 40; i++) {
    const a = randomBytes((i * 937) % 20000);
    const b = Buffer.from(a);
    for (let k = 0; k < 8 && b.length > 0; k++) b[(k * 7919 + i) % b.length]! ^= 0x5a;
    out.push([`random ${i}`, a, Buffer.concat([b.subarray(0, b.length >> 1), randomBytes(i * 3), b.subarray(b.length >> 1)])]);
  }
  // A real binary: the node executable against itself with a stretch changed.
  const node = readFileSync(process.execPath).subarray(0, 3 << 20);
  const edited = Buffer.from(node);
  edited.fill(0x90, 1 << 20, (1 << 20) + 4096);
  out.push(['3 MiB of the node binary, edited', node, edited]);
  return out;
}

describe('native bsdiff', () => {
  it('is built', () => {
    expect(native?.bsdiff).toBeTypeOf('function');
  });

  it('round-trips through bspatch and writes the stream node-bsdiff writes', async () => {
    for (const [name, a, b] of cases()) {
      const patch = await native!.bsdiff(a, b);
      expect(Buffer.from(bspatch(a, patch, b.length)).equals(Buffer.from(b)), name).toBe(true);
      expect(Buffer.from(patch).equals(reference(a, b)), name).toBe(true);
    }
  });

  it('rejects non-bytes arguments with a TypeError', () => {
    expect(() => native!.bsdiff('x' as unknown as Uint8Array, new Uint8Array(1))).toThrow(TypeError);
  });

  it('bspatch: the same bytes as the TypeScript bspatch, and the same verdict on truncated and mutated patches', async () => {
    let x = 12345;
    const next = (): number => { x = (x * 1103515245 + 12345) >>> 0; return x / 0x100000000; };
    const view = async (f: () => Promise<Uint8Array> | Uint8Array): Promise<string> => {
      try {
        return Buffer.from(await f()).toString('base64');
      } catch (err: unknown) {
        expect(isOtError(err, 'ERR_BAD_FORMAT'), String(err)).toBe(true);
        return 'rejected';
      }
    };
    let rejected = 0;
    for (const [name, a, b] of cases().slice(0, 20)) {
      const patch = await native!.bsdiff(a, b);
      expect(Buffer.from(await native!.bspatch(a, patch, b.length)).equals(Buffer.from(b)), name).toBe(true);
      const variants: [Uint8Array, number][] = [[patch.subarray(0, patch.length >> 1), b.length], [patch, b.length + 1], [patch, Math.max(0, b.length - 1)]];
      for (let i = 0; i < 30; i++) {
        const m = Buffer.from(patch);
        if (m.length > 0) m[Math.floor(next() * m.length)] = Math.floor(next() * 256);
        variants.push([m, b.length]);
      }
      for (const [p, size] of variants) {
        const ts = await view(() => bspatch(a, p, size));
        expect(await view(() => bspatchAsync(a, p, size)), name).toBe(ts);
        if (ts === 'rejected') rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(20);
  });
});
