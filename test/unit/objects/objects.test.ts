// Objects against the ostree-made fixture: checksums, decode → encode
// identity, content streams, and hostile mutations that must give OtError.
import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isOtError } from '../../../shared/errors.js';
import {
  checksumOf, decodeArchiveHeader, decodeCommit, decodeDirmeta, decodeDirtree, encodeArchiveHeader, encodeCommit,
  encodeDirmeta, encodeDirtree, encodeFileHeader, readDirtreeDirect, validateFilename,
} from '../../../shared/objects/index.js';
import { fixture } from '../../helpers/fixture-repo.js';
import { fromHex, toHex } from '../../helpers/hex.js';

const byExt = (ext: string) => fixture.objects.filter((o) => o.ext === ext);

describe('metadata objects from ostree', () => {
  it.each(byExt('commit'))('commit $checksum re-encodes identically', (o) => {
    const bytes = fromHex(o.hex);
    expect(checksumOf(bytes)).toBe(o.checksum);
    expect(toHex(encodeCommit(decodeCommit(bytes)))).toBe(o.hex);
  });
  it.each(byExt('dirtree'))('dirtree $checksum re-encodes identically', (o) => {
    expect(toHex(encodeDirtree(decodeDirtree(fromHex(o.hex))))).toBe(o.hex);
  });
  it.each(byExt('dirmeta'))('dirmeta $checksum re-encodes identically', (o) => {
    const meta = decodeDirmeta(fromHex(o.hex));
    expect(meta.mode).toBe(0o40755);
    expect(toHex(encodeDirmeta(meta))).toBe(o.hex);
  });
  it('decodes the commit fields', () => {
    const b = fixture.objects.find((o) => o.checksum === fixture.commits.B && o.ext === 'commit');
    const c = decodeCommit(fromHex(b?.hex ?? ''));
    expect(c.parent).toBe(fixture.commits.A);
    expect(c.metadata.map(([k]) => k)).toEqual(['version', 'ostree.ref-binding']);
    expect(c.timestamp).toBe(1704153600n);
  });
});

describe('content objects from ostree', () => {
  it.each(byExt('filez'))('filez $checksum: header, payload and hashed stream', (o) => {
    const bytes = fromHex(o.hex);
    const { header, size, payloadOffset } = decodeArchiveHeader(bytes);
    const payload = payloadOffset === bytes.length ? new Uint8Array(0) : inflateRawSync(bytes.subarray(payloadOffset));
    expect(toHex(payload)).toBe(o.content_hex);
    expect(size).toBe(BigInt(payload.length));
    const stream = Buffer.concat([encodeFileHeader(header), payload]);
    expect(toHex(stream)).toBe(o.hashed_stream_hex);
    expect(checksumOf(stream)).toBe(o.checksum);
    expect(toHex(encodeArchiveHeader(header, BigInt(payload.length)))).toBe(o.hex.slice(0, payloadOffset * 2));
    expect(toHex(encodeDirmeta(header))).toBe(o.bare_user_ostreemeta_xattr_hex);
  });
});

describe('hostile input', () => {
  const decoders: Record<string, (b: Uint8Array) => unknown> = {
    commit: decodeCommit, dirtree: decodeDirtree, dirmeta: decodeDirmeta, filez: decodeArchiveHeader,
  };
  it('every truncation and single-byte mutation yields a value or an OtError', () => {
    let seed = 42;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    let errors = 0;
    for (const o of fixture.objects) {
      const decodeFn = decoders[o.ext];
      if (!decodeFn) continue;
      const orig = fromHex(o.hex);
      const inputs: Uint8Array[] = [];
      for (let n = 0; n < orig.length; n++) inputs.push(orig.subarray(0, n));
      for (let i = 0; i < 300; i++) {
        const m = Uint8Array.from(orig);
        m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
        inputs.push(m);
      }
      for (const input of inputs) {
        try { decodeFn(input); } catch (err: unknown) {
          if (!isOtError(err)) throw new Error(`${o.ext} decoder threw a non-OtError: ${String(err)}`);
          errors++;
        }
      }
    }
    expect(errors).toBeGreaterThan(100);
  });
  it('rejects a non-normal dirmeta (extra padding byte)', () => {
    const bytes = Buffer.concat([fromHex('0000000000000000000041ed'), Buffer.from([0])]);
    expect(() => decodeDirmeta(bytes)).toThrow(expect.objectContaining({ code: expect.stringMatching(/ERR_NOT_NORMAL_FORM|ERR_BAD_FORMAT/) }));
  });
  it('rejects a non-normal commit (wide framing offsets)', () => {
    // a(say) with a 2-byte offset where 1 byte is enough
    expect(() => decodeDirtree(fromHex('61000000000000000000000000000000000000000000000000000000000000000000020022002300')))
      .toThrow(expect.objectContaining({ code: expect.stringMatching(/ERR_NOT_NORMAL_FORM|ERR_BAD_FORMAT/) }));
  });
  it.each(['..', '.', 'a/b', '', 'x\0y'])('dirtree names: %j is rejected', (name) => {
    expect(() => validateFilename(name)).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_PATH' }));
  });
  it('a dirtree naming ".." does not decode', () => {
    const csum = checksumOf(new Uint8Array(0));
    const good = encodeDirtree({ files: [{ name: 'ab', checksum: csum }], dirs: [] });
    const evil = Uint8Array.from(good);
    evil[0] = 0x2e; evil[1] = 0x2e;
    expect(() => decodeDirtree(evil)).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_PATH' }));
  });
});

describe('direct dirtree reader (trusted local objects)', () => {
  let seed = 7;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const csum = (i: number) => checksumOf(Buffer.from(`object ${i}`));
  const name = (i: number) => `${'n'.repeat(1 + Math.floor(rnd() * 40))}-${i}-\u00e9`;
  // Sizes chosen to exercise 1-, 2- and 4-byte framing offsets.
  const trees = [0, 1, 3, 40, 900, 5000].map((count) => ({
    files: Array.from({ length: count }, (_, i) => ({ name: `f${name(i)}`, checksum: csum(i) })),
    dirs: Array.from({ length: Math.ceil(count / 3) }, (_, i) => ({ name: `d${name(i)}`, dirtree: csum(i + 1), dirmeta: csum(i + 2) })),
  }));
  it.each(trees.map((t, i) => [i, t] as const))('tree %i reads the same as the generic decoder', (_, tree) => {
    const bytes = encodeDirtree(tree);
    expect(readDirtreeDirect(bytes)).toEqual(decodeDirtree(bytes));
    expect(decodeDirtree(bytes, { trusted: true })).toEqual(decodeDirtree(bytes));
  });
  it('ostree-written dirtrees read the same', () => {
    for (const o of byExt('dirtree')) expect(readDirtreeDirect(fromHex(o.hex))).toEqual(decodeDirtree(fromHex(o.hex)));
  });
  it('truncated or mutated input: a value or an OtError, never a crash or an out-of-range read', () => {
    const orig = encodeDirtree(trees[3] as never);
    for (let n = 0; n < orig.length; n++) {
      try { decodeDirtree(orig.subarray(0, n), { trusted: true }); } catch (err: unknown) { expect(isOtError(err)).toBe(true); }
    }
    for (let i = 0; i < 2000; i++) {
      const m = Uint8Array.from(orig);
      m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      try {
        const t = decodeDirtree(m, { trusted: true });
        for (const f of t.files) expect(f.checksum).toMatch(/^[0-9a-f]{64}$/);
      } catch (err: unknown) { expect(isOtError(err)).toBe(true); }
    }
  });
  it('a dirtree naming ".." is rejected on the trusted path too', () => {
    const good = encodeDirtree({ files: [{ name: 'ab', checksum: csum(1) }], dirs: [] });
    const evil = Uint8Array.from(good);
    evil[0] = 0x2e; evil[1] = 0x2e;
    expect(() => decodeDirtree(evil, { trusted: true })).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_PATH' }));
  });
});
