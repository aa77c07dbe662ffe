// Static-delta formats against the ostree-made fixture: superblocks decode and
// re-encode identically, parts (xz, inline) execute into exactly the listed
// objects with matching checksums; hostile parts give OtError, never a crash.
import { describe, expect, it } from 'vitest';
import lzma from 'lzma-native';
import { OtError, isOtError } from '../../../shared/errors.js';
import { Variant } from '../../../shared/gvariant/index.js';
import { checksumOf, encodeFileHeader, type Checksum, type FileHeader } from '../../../shared/objects/index.js';
import {
  bspatch, compressPart, decompressPart, elfMachine, decodePartPayload, decodeSuperblock, encodeSuperblock, executePart, readVarint, splitPartFile, superblockCommitBytes,
  writeVarint, type DeltaObject, type DeltaSink,
} from '../../../shared/delta/index.js';
import { fixture } from '../../helpers/fixture-repo.js';
import { fromHex, toHex } from '../../helpers/hex.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface DeltaVec { superblock_hex: string; part0_hex?: string; superblock_sha256: string }
const deltas = (JSON.parse(readFileSync(new URL('../../fixtures/vectors/fixture-repo.json', import.meta.url), 'utf8')) as { deltas: Record<string, DeltaVec> }).deltas;

/** A sink holding objects in memory, seeded with the fixture's commit-A content. */
function memorySink(): DeltaSink & { stored: Map<string, string> } {
  const stored = new Map<string, string>();
  const content = new Map<string, Uint8Array>();
  for (const o of fixture.objects) if (o.ext === 'filez' && o.content_hex !== undefined) content.set(o.checksum, fromHex(o.content_hex));
  return {
    stored,
    has: () => false,
    readContent: async (c: Checksum) => { const b = content.get(c); if (!b) throw new OtError('ERR_OBJECT_NOT_FOUND', `no ${c}`); return b; },
    writeMetadata: async (obj: DeltaObject, bytes: Uint8Array) => { stored.set(obj.checksum, checksumOf(bytes)); },
    writeContent: async (obj: DeltaObject, h: FileHeader, p: Uint8Array) => { stored.set(obj.checksum, checksumOf(encodeFileHeader(h), p)); },
  };
}

describe('superblocks from ostree', () => {
  it.each(Object.entries(deltas).filter(([k]) => k !== 'index'))('%s decodes, embeds the commit and re-encodes identically', (_name, v) => {
    const bytes = fromHex(v.superblock_hex);
    expect(checksumOf(bytes)).toBe(v.superblock_sha256);
    const sb = decodeSuperblock(bytes);
    expect(sb.to).toBe(fixture.commits.B);
    expect(checksumOf(superblockCommitBytes(sb))).toBe(fixture.commits.B);
    expect(toHex(encodeSuperblock(sb))).toBe(v.superblock_hex);
  });
});

describe('executing parts', () => {
  it('the from→to xz part writes exactly its objects, bspatch included', async () => {
    const v = deltas.from_to as DeltaVec;
    const sb = decodeSuperblock(fromHex(v.superblock_hex));
    expect(sb.from).toBe(fixture.commits.A);
    const { compression, data } = splitPartFile(fromHex(v.part0_hex ?? ''));
    expect(compression).toBe('xz');
    const part = decodePartPayload(new Uint8Array(await lzma.decompress(Buffer.from(data))));
    const sink = memorySink();
    const objects = sb.parts[0]?.objects ?? [];
    expect(await executePart(part, objects, sink, { maxObjectSize: 1 << 20 })).toBe(objects.length);
    for (const o of objects) expect(sink.stored.get(o.checksum)).toBe(o.checksum);
  });

  it('the inline scratch part writes all objects of commit B', async () => {
    const v = deltas.scratch_inline as DeltaVec;
    const sb = decodeSuperblock(fromHex(v.superblock_hex));
    const inline = sb.metadata.find(([k]) => k.endsWith('/0'))?.[1] as Variant;
    const [cbyte, payload] = inline.value as [number, Uint8Array];
    const raw = cbyte === 0 ? payload : new Uint8Array(await lzma.decompress(Buffer.from(payload)));
    const sink = memorySink();
    const objects = sb.parts[0]?.objects ?? [];
    await executePart(decodePartPayload(raw), objects, sink, { maxObjectSize: 1 << 20 });
    for (const o of objects) expect(sink.stored.get(o.checksum)).toBe(o.checksum);
    expect(objects.length).toBe(9);
  });

  it('mutated op streams and payloads give OtError, never a crash', async () => {
    const v = deltas.from_to as DeltaVec;
    const sb = decodeSuperblock(fromHex(v.superblock_hex));
    const part = decodePartPayload(new Uint8Array(await lzma.decompress(Buffer.from(splitPartFile(fromHex(v.part0_hex ?? '')).data))));
    let seed = 3;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    let failures = 0;
    for (let i = 0; i < 400; i++) {
      const ops = Uint8Array.from(part.ops);
      ops[Math.floor(rnd() * ops.length)] = Math.floor(rnd() * 256);
      try {
        await executePart({ ...part, ops: ops.subarray(0, Math.floor(rnd() * (ops.length + 1))) }, sb.parts[0]?.objects ?? [], memorySink(), { maxObjectSize: 1 << 20 });
      } catch (err: unknown) {
        if (!isOtError(err)) throw err;
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(200);
  });
});

describe('varints and bspatch', () => {
  it('matches the spec varint vectors', () => {
    const misc = JSON.parse(readFileSync(new URL('../../fixtures/vectors/misc.json', import.meta.url), 'utf8')) as { varints: { value: number; hex: string }[] };
    for (const v of misc.varints) {
      const out: number[] = [];
      writeVarint(out, v.value);
      expect(toHex(Uint8Array.from(out))).toBe(v.hex);
      expect(readVarint(fromHex(v.hex), 0)).toEqual([v.value, v.hex.length / 2]);
    }
  });
  it('rejects patches that run past their bounds', () => {
    const ctrl = new Uint8Array(24);
    ctrl[0] = 200; // x = 200 but no diff bytes follow
    expect(() => bspatch(new Uint8Array(10), ctrl, 50)).toThrow(expect.objectContaining({ code: 'ERR_BAD_FORMAT' }));
  });
});

describe('part compression (system xz, lzma-native fallback)', () => {
  const sample = Buffer.concat(Array.from({ length: 2000 }, (_, i) => Buffer.from(`line ${i} ${(i * 2654435761) >>> 0}\n`)));
  const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0x3e, 0]), sample]);
  const withoutXz = async <T>(f: () => Promise<T>): Promise<T> => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try { return await f(); } finally { process.env.PATH = path; }
  };

  it.each([[false], [true]])('round trip, x86 filter %s, decodable by both decoders', async (x86) => {
    const file = await compressPart(elf, 'xz', { x86 });
    expect(file[0]).toBe(0x78);
    expect(Buffer.from(await decompressPart(file, 1 << 20)).equals(elf)).toBe(true);
    expect(Buffer.from(await withoutXz(() => decompressPart(file, 1 << 20))).equals(elf)).toBe(true);
    expect(Buffer.from(await lzma.decompress(Buffer.from(file.subarray(1)))).equals(elf)).toBe(true);
  });
  it('without an xz binary, lzma-native compresses', async () => {
    const file = await withoutXz(() => compressPart(sample, 'xz'));
    expect(Buffer.from(await decompressPart(file, 1 << 20)).equals(sample)).toBe(true);
  });
  it('an xz binary that fails (e.g. one without these options) falls back to lzma-native both ways', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ots-fake-xz-'));
    writeFileSync(join(dir, 'xz'), '#!/bin/sh\necho "xz: unrecognized option" >&2\nexit 1\n', { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = dir;
    try {
      const file = await compressPart(elf, 'xz', { x86: true });
      expect(Buffer.from(await decompressPart(file, 1 << 20)).equals(elf)).toBe(true);
    } finally {
      process.env.PATH = path;
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('a corrupt xz part is ERR_BAD_FORMAT; a bomb is ERR_TOO_LARGE (with and without xz)', async () => {
    const file = await compressPart(sample, 'xz');
    const bad = Uint8Array.from(file);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    await expect(decompressPart(bad, 1 << 20)).rejects.toMatchObject({ code: 'ERR_BAD_FORMAT' });
    await expect(withoutXz(() => decompressPart(bad, 1 << 20))).rejects.toMatchObject({ code: 'ERR_BAD_FORMAT' });
    const bomb = await compressPart(Buffer.alloc(64 << 20), 'xz');
    expect(bomb.length).toBeLessThan(1 << 20);
    await expect(decompressPart(bomb, 1 << 20)).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' });
    await expect(withoutXz(() => decompressPart(bomb, 1 << 20))).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' });
  });
  it('zstd parts: one-shot when frames declare their size, streamed when not; corrupt is ERR_BAD_FORMAT, a bomb or a lying size ERR_TOO_LARGE/ERR_BAD_FORMAT', async () => {
    const file = await compressPart(sample, 'zstd');
    expect(Buffer.from(await decompressPart(file, 1 << 20)).equals(Buffer.from(sample))).toBe(true);
    // A frame with no content size (streaming compressor): the stream path, capped the same way.
    const z = await import('zstd-napi');
    const streamed = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const c = new z.CompressStream();
      c.on('data', (b: Buffer) => chunks.push(b)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
      c.end(sample);
    });
    expect((await import('zstd-napi/binding.js')).getFrameContentSize(streamed)).toBe(null);
    const streamedFile = Buffer.concat([Buffer.from([0x7a]), streamed]);
    expect(Buffer.from(await decompressPart(streamedFile, 1 << 20)).equals(Buffer.from(sample))).toBe(true);
    await expect(decompressPart(streamedFile, 100)).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' });
    const bad = Uint8Array.from(file);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    await expect(decompressPart(bad, 1 << 20)).rejects.toMatchObject({ code: 'ERR_BAD_FORMAT' });
    await expect(decompressPart(file.subarray(0, file.length - 7), 1 << 20)).rejects.toMatchObject({ code: 'ERR_BAD_FORMAT' });
    const bomb = await compressPart(Buffer.alloc(64 << 20), 'zstd');
    expect(bomb.length).toBeLessThan(1 << 20);
    await expect(decompressPart(bomb, 1 << 20)).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' });
    // A frame header that declares fewer bytes than the frame holds.
    const lying = Uint8Array.from(file);
    const fhd = lying[5] as number;
    expect(fhd >> 6).toBeGreaterThan(0); // the frame carries a content-size field
    const fcsOffset = 1 + 4 + 1 + ((fhd & 0x20) === 0 ? 1 : 0) + [0, 1, 2, 4][fhd & 3]!;
    lying[fcsOffset] = (lying[fcsOffset] as number) ^ 0x01;
    await expect(decompressPart(lying, 1 << 20)).rejects.toMatchObject({ code: 'ERR_BAD_FORMAT' });
  });
  it('recognises x86 and other ELF machines', () => {
    expect(elfMachine(elf)).toBe('x86');
    const arm = Buffer.from(elf);
    arm[18] = 0xb7;
    expect(elfMachine(arm)).toBe('other');
    expect(elfMachine(sample)).toBe(null);
    expect(elfMachine(elf.subarray(0, 10))).toBe(null);
  });
});

describe('executePart concurrency', () => {
  it('a read source written earlier in the same part is read only after its write landed', async () => {
    const header: FileHeader = { uid: 0, gid: 0, mode: 0o100644, xattrs: [], symlinkTarget: '' };
    const x = Buffer.from('hello world, version one\n');
    const y = Buffer.from('world, version');
    const csumX = checksumOf(encodeFileHeader(header), x);
    const csumY = checksumOf(encodeFileHeader(header), y);
    const ops: number[] = [];
    // S: file X (mode 0, xattrs 0, size, offset 0)
    ops.push(0x53); for (const v of [0, 0, x.length, 0]) writeVarint(ops, v);
    // o (mode 0, xattrs 0, size), r (checksum of X at offset x.length), w (size, offset 6 in X), R, c
    ops.push(0x6f); for (const v of [0, 0, y.length]) writeVarint(ops, v);
    ops.push(0x72); writeVarint(ops, x.length);
    ops.push(0x77); writeVarint(ops, y.length); writeVarint(ops, 6);
    ops.push(0x52, 0x63);
    const payload = Buffer.concat([x, Buffer.from(csumX, 'hex')]);
    const stored = new Map<string, Uint8Array>();
    const events: string[] = [];
    const sink: DeltaSink = {
      has: () => false,
      readContent: async (c: Checksum) => {
        events.push(`read ${c === csumX ? 'X' : c}`);
        const b = stored.get(c);
        if (!b) throw new OtError('ERR_OBJECT_NOT_FOUND', `not yet stored: ${c}`);
        return b;
      },
      writeMetadata: async () => undefined,
      writeContent: async (obj: DeltaObject, h: FileHeader, p: Uint8Array) => {
        if (obj.checksum === csumX) await new Promise((r) => setTimeout(r, 50)); // a slow disk
        expect(checksumOf(encodeFileHeader(h), p)).toBe(obj.checksum);
        stored.set(obj.checksum, Uint8Array.from(p));
        events.push(`wrote ${obj.checksum === csumX ? 'X' : 'Y'}`);
      },
    };
    const objects: DeltaObject[] = [{ type: 'file', checksum: csumX }, { type: 'file', checksum: csumY }];
    const part = { modes: [{ uid: 0, gid: 0, mode: 0o100644 }], xattrs: [[]], payload: new Uint8Array(payload), ops: Uint8Array.from(ops) };
    expect(await executePart(part, objects, sink, { maxObjectSize: 1 << 20 })).toBe(2);
    expect(events).toEqual(['wrote X', 'read X', 'wrote Y']);
    expect(Buffer.from(stored.get(csumY) as Uint8Array).toString()).toBe('world, version');
  });
});
