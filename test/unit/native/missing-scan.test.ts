// missingScan (native/prune.c), the walk a pull makes over a stored commit
// tree: objects looked up in a staging directory, then objects/; trees not
// stored are listed (not descended into) with what else is missing; a stored
// tree that is corrupt or hostile is an error naming it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encode } from '../../../shared/gvariant/index.js';
import { nativeSys } from '../../../shared/native/sys.js';
import { DIRTREE_FORMAT, checksumOf, checksumToBytes, encodeDirmeta, encodeFileHeader, loosePath, type Checksum, type ObjectType } from '../../../shared/objects/index.js';
import { makeTmpDir } from '../../helpers/tmp.js';

const native = nativeSys();
if (native === null) throw new Error('the native helper is not built: run npm run install');

function setup() {
  const root = makeTmpDir();
  const objects = join(root, 'objects');
  const staging = join(root, 'staging');
  mkdirSync(objects);
  mkdirSync(staging);
  /** Store bytes under their checksum in `dir` (or under `as`). */
  const put = (dir: string, bytes: Uint8Array, type: ObjectType, as?: Checksum): Checksum => {
    const c = as ?? checksumOf(bytes);
    const p = join(dir, loosePath(c, type, false).slice('objects/'.length));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, bytes);
    return c;
  };
  const file = (text: string): { csum: Checksum; bytes: Buffer } => {
    const bytes = Buffer.from(text);
    return { csum: checksumOf(encodeFileHeader({ uid: 0, gid: 0, mode: 0o100644, rdev: 0, symlinkTarget: '', xattrs: [] }), bytes), bytes };
  };
  const tree = (files: [string, Checksum][], dirs: [string, Checksum, Checksum][] = []): Uint8Array => encode(DIRTREE_FORMAT, [
    files.map(([n, c]) => [n, checksumToBytes(c)]),
    dirs.map(([n, t, m]) => [n, checksumToBytes(t), checksumToBytes(m)]),
  ]);
  const meta = (mode: number) => encodeDirmeta({ uid: 0, gid: 0, mode, xattrs: [] });
  return { objects, staging, put, file, tree, meta, scan: (t: Checksum, m: Checksum) => native.missingScan([staging, objects], t, m, '.file') };
}

describe('missingScan', () => {
  it('walks stored trees in both directories and lists what is missing, each once', async () => {
    const s = setup();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => s.file(`content ${x}\n`)) as [ReturnType<typeof s.file>, ReturnType<typeof s.file>, ReturnType<typeof s.file>, ReturnType<typeof s.file>];
    s.put(s.objects, a.bytes, 'file', a.csum);
    s.put(s.staging, b.bytes, 'file', b.csum);
    const m1 = s.put(s.objects, s.meta(0o40755), 'dirmeta');
    const m2 = checksumOf(s.meta(0o40700)); // not stored
    const t1 = s.put(s.staging, s.tree([['a', a.csum], ['d', d.csum]]), 'dirtree');
    const t2 = checksumOf(s.tree([['x', c.csum]])); // not stored: listed, not descended into
    const t0 = s.put(s.objects, s.tree([['a', a.csum], ['b', b.csum], ['c', c.csum]], [['s1', t1, m1], ['s2', t2, m2], ['s3', t1, m1]]), 'dirtree');
    const res = await s.scan(t0, m1);
    expect(res.error).toBeUndefined();
    expect(res.dirtree).toEqual([t2]);
    expect(res.dirmeta).toEqual([m2]);
    expect([...res.file].sort()).toEqual([c.csum, d.csum].sort());
    // A root tree that is not stored at all: just that tree.
    const nothing = await s.scan(t2, m2);
    expect(nothing).toEqual({ dirtree: [t2], dirmeta: [], file: [] });
  });

  it('a stored tree whose bytes do not match its name is ERR_CHECKSUM_MISMATCH naming it', async () => {
    const s = setup();
    const m = s.put(s.objects, s.meta(0o40755), 'dirmeta');
    const sub = checksumOf(s.tree([['f', s.file('f').csum]]));
    s.put(s.staging, s.tree([['g', s.file('g').csum]]), 'dirtree', sub);
    const t = s.put(s.objects, s.tree([], [['sub', sub, m]]), 'dirtree');
    const res = await s.scan(t, m);
    expect(res.error).toMatchObject({ code: 'ERR_CHECKSUM_MISMATCH', checksum: sub });
  });

  it.each([['..'], ['a/b'], ['']])('a stored tree naming %j is refused', async (name) => {
    const s = setup();
    const m = s.put(s.objects, s.meta(0o40755), 'dirmeta');
    const t = s.put(s.staging, s.tree([[name, s.file('x').csum]]), 'dirtree');
    const res = await s.scan(t, m);
    expect(res.error?.code).toMatch(/^ERR_(BAD_FORMAT|UNSAFE_PATH)$/);
    expect((res.error as { checksum?: string }).checksum).toBe(t);
  });

  it('a symlink or FIFO in place of a stored tree is not read through', async () => {
    const s = setup();
    const m = s.put(s.objects, s.meta(0o40755), 'dirmeta');
    const real = s.tree([['f', s.file('f').csum]]);
    const t = checksumOf(real);
    const p = join(s.staging, loosePath(t, 'dirtree', false).slice('objects/'.length));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(join(s.staging, 'elsewhere'), real);
    (await import('node:fs')).symlinkSync(join(s.staging, 'elsewhere'), p);
    const res = await s.scan(t, m);
    expect(res.error).toBeDefined();
  });
});
