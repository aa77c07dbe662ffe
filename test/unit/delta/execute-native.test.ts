// The native part interpreter (native/delta_exec.c, bare-user pulls) against
// the TypeScript one (shared/delta/execute.ts) on the ostree-made fixture
// parts and on hundreds of mutated ones: the same verdict every time (both
// succeed, or both throw an OtError), and on success the same objects on disk,
// byte for byte, with the same mode and user.ostreemeta.
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import lzma from 'lzma-native';
import { isOtError } from '../../../shared/errors.js';
import { Variant } from '../../../shared/gvariant/index.js';
import { decodePartPayload, decodeSuperblock, executePart, splitPartFile, writeVarint, type DeltaObject, type PartPayload } from '../../../shared/delta/index.js';
import { checksumOf, encodeFileHeader } from '../../../shared/objects/index.js';
import { Repo, Transaction, nativePartExecutor, transactionSink } from '../../../shared/repo/index.js';
import { readXattrSync } from '../../../shared/repo/xattr-io.js';
import { fixture } from '../../helpers/fixture-repo.js';
import { fromHex, toHex } from '../../helpers/hex.js';
import { makeTmpDir } from '../../helpers/tmp.js';

interface DeltaVec { superblock_hex: string; part0_hex?: string }
const deltas = (JSON.parse(readFileSync(new URL('../../fixtures/vectors/fixture-repo.json', import.meta.url), 'utf8')) as { deltas: Record<string, DeltaVec> }).deltas;

/** What a run left in objects/: rel path → bytes, mode, ostreemeta (hex). */
type Stored = Map<string, string>;

async function run(kind: 'ts' | 'native', part: PartPayload, objects: readonly DeltaObject[]): Promise<{ ok: boolean; written?: number; stored: Stored; error?: unknown }> {
  const repo = await Repo.create(join(makeTmpDir(), 'repo'), 'bare-user');
  // Read sources: commit A's payloads, as files of the repo.
  for (const o of fixture.objects) {
    if (o.ext !== 'filez' || o.content_hex === undefined) continue;
    const p = repo.objectPath(o.checksum as never, 'file');
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, fromHex(o.content_hex));
  }
  const before = new Set(listObjects(repo.path).keys());
  const tx = await Transaction.begin(repo);
  let written: number | undefined;
  let error: unknown;
  try {
    const native = nativePartExecutor(tx, 1 << 20);
    if (kind === 'native') {
      if (native === null) throw new Error('the native helper is not built');
      written = await native(part, objects);
    } else {
      written = await executePart(part, objects, transactionSink(tx), { maxObjectSize: 1 << 20 });
    }
  } catch (err: unknown) {
    error = err;
  }
  await tx.commit();
  const stored = listObjects(repo.path);
  for (const k of before) stored.delete(k);
  return { ok: error === undefined, written, stored, error };
}

function listObjects(repo: string): Stored {
  const out: Stored = new Map();
  const root = join(repo, 'objects');
  for (const d of readdirSync(root)) {
    for (const f of readdirSync(join(root, d))) {
      const p = join(root, d, f);
      const meta = readXattrSync(p, 'user.ostreemeta');
      out.set(`${d}/${f}`, `${toHex(readFileSync(p))} ${statSync(p).mode.toString(8)} ${meta ? toHex(meta) : '-'}`);
    }
  }
  return out;
}

async function partOf(name: string): Promise<{ part: PartPayload; objects: DeltaObject[] }> {
  const v = deltas[name] as DeltaVec;
  const sb = decodeSuperblock(fromHex(v.superblock_hex));
  let file: Uint8Array;
  if (v.part0_hex !== undefined) file = fromHex(v.part0_hex);
  else {
    const inline = sb.metadata.find(([k]) => k.endsWith('/0'))?.[1] as Variant;
    const [c, data] = inline.value as [number, Uint8Array];
    file = Uint8Array.from([c, ...data]);
  }
  const { compression, data } = splitPartFile(file);
  const raw = compression === 'none' ? data : new Uint8Array(await lzma.decompress(Buffer.from(data)));
  return { part: decodePartPayload(raw), objects: sb.parts[0]?.objects ?? [] };
}

describe('native part interpreter', () => {
  it.each(['from_to', 'scratch_inline'])('%s: the same objects as the TypeScript interpreter, byte for byte', async (name) => {
    const { part, objects } = await partOf(name);
    const [ts, nat] = [await run('ts', part, objects), await run('native', part, objects)];
    expect(ts.error).toBeUndefined();
    expect(nat.error).toBeUndefined();
    expect(nat.written).toBe(ts.written);
    expect(nat.written).toBe(objects.length);
    expect(nat.stored.size).toBeGreaterThan(0); // those not already stored (scratch: some are commit A's)
    expect(nat.stored).toEqual(ts.stored);
  });

  it('mutated ops, payloads and modes: the same verdict as the TypeScript interpreter, never a crash', async () => {
    const base = await partOf('from_to');
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    let failures = 0;
    for (let i = 0; i < Number(process.env.OTS_MUTATIONS ?? 150); i++) {
      const ops = Uint8Array.from(base.part.ops);
      const payload = Uint8Array.from(base.part.payload);
      const what = i % 3;
      if (what === 0) ops[Math.floor(rnd() * ops.length)] = Math.floor(rnd() * 256);
      if (what === 1) payload[Math.floor(rnd() * payload.length)] ^= 1 << Math.floor(rnd() * 8);
      const cut = what === 2 ? Math.floor(rnd() * (ops.length + 1)) : ops.length;
      const part = { ...base.part, ops: ops.subarray(0, cut), payload };
      const [ts, nat] = [await run('ts', part, base.objects), await run('native', part, base.objects)];
      if (!nat.ok && !isOtError(nat.error)) throw nat.error;
      if (nat.ok !== ts.ok) throw new Error(`mutation ${i}: TypeScript ${ts.ok ? 'applied it' : String(ts.error)}; native ${nat.ok ? 'applied it' : String(nat.error)}`);
      if (ts.ok) expect(nat.stored).toEqual(ts.stored);
      if (!ts.ok) failures++;
    }
    expect(failures).toBeGreaterThan(50);
  }, 120_000);

  it("'c' closes the object 'o' opened even when an 'S' moved the cursor on in between", async () => {
    // o opens object 0; S (on the same cursor: object 0) stores it and moves on; w + c close
    // object 0 again (the same bytes: no second file); the cursor ends past object 1, which
    // nothing wrote. TypeScript and native agree, and neither reads past the object list.
    const header = { uid: 0, gid: 0, mode: 0o100644, symlinkTarget: '', xattrs: [] };
    const a = Buffer.from('hello, opened first\n');
    const ops: number[] = [];
    ops.push(0x6f); for (const v of [0, 0, a.length]) writeVarint(ops, v); // o: object 0
    ops.push(0x53); for (const v of [0, 0, a.length, 0]) writeVarint(ops, v); // S: object 0, cursor -> 1
    ops.push(0x77); for (const v of [a.length, 0]) writeVarint(ops, v); // w: into the open object
    ops.push(0x63); // c: closes object 0, cursor -> 2
    const part: PartPayload = { modes: [{ uid: 0, gid: 0, mode: 0o100644 }], xattrs: [[]], payload: a, ops: Uint8Array.from(ops) };
    const objects: DeltaObject[] = [
      { type: 'file', checksum: checksumOf(encodeFileHeader(header), a) },
      { type: 'file', checksum: 'cd'.repeat(32) as never },
    ];
    const [ts, nat] = [await run('ts', part, objects), await run('native', part, objects)];
    expect(ts.error).toBeUndefined();
    expect(nat.error).toBeUndefined();
    expect(nat.written).toBe(ts.written);
    expect(nat.stored).toEqual(ts.stored);
    expect([...nat.stored.keys()]).toEqual([`${objects[0]?.checksum.slice(0, 2)}/${objects[0]?.checksum.slice(2)}.file`]);
  });

  it('an object whose bytes do not match its checksum is ERR_CHECKSUM_MISMATCH, and nothing of it is stored', async () => {
    const { part, objects } = await partOf('scratch_inline');
    const lying = objects.map((o, k) => (k === objects.length - 1 ? { ...o, checksum: 'ab'.repeat(32) as never } : o));
    const nat = await run('native', part, lying);
    expect(nat.error).toMatchObject({ code: 'ERR_CHECKSUM_MISMATCH', checksum: 'ab'.repeat(32) });
    expect([...nat.stored.keys()].some((k) => k.startsWith('ab/'))).toBe(false);
    const ts = await run('ts', part, lying);
    expect(ts.error).toMatchObject({ code: 'ERR_CHECKSUM_MISMATCH' });
    expect(nat.stored).toEqual(ts.stored);
  });
});
