// The native helpers (native/ots_sys.c), built by `npm ci`: syncfs, writeNew
// and checkout plans, against the real kernel in a temp dir.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeSys, type NativeSys, type PlanResult } from '../../../shared/native/sys.js';
import { readXattrSync } from '../../../shared/repo/xattr-io.js';
import { makeTmpDir } from '../../helpers/tmp.js';

function sys(): NativeSys {
  const native = nativeSys();
  // CI installs a compiler and `npm ci` builds the addon: its absence is a failure here.
  expect(native, 'native/build/Release/ots_sys.node is missing: run npm ci (needs make and g++)').not.toBeNull();
  return native as NativeSys;
}

/** objects/ab/cdef.file as a checkout plan source. */
function objectsWith(dir: string, files: Record<string, string>): string {
  const objects = join(dir, 'objects');
  mkdirSync(objects, { recursive: true });
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(join(objects, rel.slice(0, 2)), { recursive: true });
    writeFileSync(join(objects, rel), body);
  }
  return objects;
}

async function runPlan(native: NativeSys, objects: string, ops: string[][], split = 2): Promise<PlanResult> {
  const plan = native.planOpen(objects);
  const enc = ops.map((op) => op.map((f) => `${f}\0`).join(''));
  for (let i = 0; i < enc.length; i += split) native.planPush(plan, enc.slice(i, i + split).join(''));
  return native.planFinish(plan, false);
}

describe('native helpers', () => {
  it('syncfs flushes an existing path and rejects a missing one with its errno and path', async () => {
    const t = makeTmpDir();
    await sys().syncfs(t);
    await expect(sys().syncfs(join(t, 'missing'))).rejects.toMatchObject({ errno: -2, syscall: 'syncfs', path: join(t, 'missing') });
  });

  it('writeNew creates a file with its bytes, xattrs and final mode, never replaces one, and leaves nothing when it fails', async () => {
    const t = makeTmpDir();
    const native = sys();
    const p = join(t, 'obj');
    await native.writeNew(p, [Buffer.from('he'), new Uint8Array([108, 108, 111])], { mode: 0o4755, xattrs: [{ name: 'user.ostreemeta', value: Buffer.from([1, 2, 3]) }] });
    expect(readFileSync(p, 'utf8')).toBe('hello');
    expect(statSync(p).mode & 0o7777).toBe(0o4755);
    expect([...readXattrSync(p, 'user.ostreemeta') ?? []]).toEqual([1, 2, 3]);
    await expect(native.writeNew(p, [Buffer.from('x')], { mode: 0o644 })).rejects.toMatchObject({ errno: -17, syscall: 'open', path: p });
    expect(readFileSync(p, 'utf8')).toBe('hello');
    symlinkSync(join(t, 'elsewhere'), join(t, 'link'));
    await expect(native.writeNew(join(t, 'link'), [Buffer.from('x')], { mode: 0o644 })).rejects.toMatchObject({ errno: -17 });
    expect(existsSync(join(t, 'elsewhere'))).toBe(false);
    // An xattr the kernel refuses (no namespace): the half-written file is removed.
    await expect(native.writeNew(join(t, 'bad'), [Buffer.from('x')], { mode: 0o644, xattrs: [{ name: 'nonamespace', value: Buffer.from('v') }] }))
      .rejects.toMatchObject({ syscall: 'fsetxattr' });
    expect(existsSync(join(t, 'bad'))).toBe(false);
  });

  it('a plan makes directories, hardlinks, symlinks and modes in order, across chunks', async () => {
    const t = makeTmpDir();
    const objects = objectsWith(t, { 'ab/cdef.file': 'hello' });
    const root = join(t, 'co');
    mkdirSync(root);
    const res = await runPlan(sys(), objects, [
      ['C', root], ['L', 'ab/cdef.file', 'a'], ['S', '../target', 'link'],
      ['D', `${root}/sub`], ['L', 'ab/cdef.file', 'b'], ['M', `${root}/sub`, '555', '-1', '-1'],
      ['M', root, '751', '-1', '-1'],
    ]);
    expect(res).toEqual({ ops: 7, copies: [] });
    expect(statSync(join(root, 'a')).ino).toBe(statSync(join(objects, 'ab/cdef.file')).ino);
    expect(statSync(join(root, 'sub/b')).nlink).toBe(3);
    expect(readlinkSync(join(root, 'link'))).toBe('../target');
    expect(lstatSync(join(root, 'sub')).mode & 0o7777).toBe(0o555);
    expect(lstatSync(root).mode & 0o7777).toBe(0o751);
  });

  it('stops at the first failure and names the operation and path; later operations do not run', async () => {
    const t = makeTmpDir();
    const objects = objectsWith(t, { 'ab/cdef.file': 'x' });
    const root = join(t, 'co');
    mkdirSync(join(root, 'exists'), { recursive: true });
    const res = await runPlan(sys(), objects, [['C', root], ['D', `${root}/exists`], ['L', 'ab/cdef.file', 'never']]);
    expect(res.error).toMatchObject({ errno: -17, op: 'D', syscall: 'mkdir', path: `${root}/exists` });
    expect(res.ops).toBe(2);
    expect(existsSync(join(root, 'never'))).toBe(false);
    const missing = await runPlan(sys(), objects, [['C', root], ['L', 'ab/0000.file', 'f']]);
    expect(missing.error).toMatchObject({ errno: -2, op: 'L', path: 'f' });
    // A symlink is never entered as a directory (O_NOFOLLOW): ENOTDIR.
    symlinkSync(root, join(t, 'dirlink'));
    expect((await runPlan(sys(), objects, [['C', join(t, 'dirlink')], ['L', 'ab/cdef.file', 'y']])).error).toMatchObject({ errno: -20, op: 'C' });
    expect(existsSync(join(root, 'y'))).toBe(false);
  });

  it('finishing with abort resolves, pushing after finish throws, malformed operations fail cleanly', async () => {
    const t = makeTmpDir();
    const objects = objectsWith(t, {});
    const native = sys();
    const plan = native.planOpen(objects);
    native.planPush(plan, `D\0${t}/x\0`);
    expect(await native.planFinish(plan, true)).toMatchObject({ copies: [] });
    expect(() => native.planPush(plan, 'C\0/\0')).toThrow(/after planFinish/);
    const bad = await runPlan(native, objects, [['Q', 'x']]);
    expect(bad.error).toMatchObject({ errno: -22, op: 'Q' });
    const truncated = native.planOpen(objects);
    native.planPush(truncated, 'L\0only-one-field');
    expect((await native.planFinish(truncated, false)).error).toMatchObject({ errno: -22 });
    expect(() => native.planOpen(join(t, 'no-such-objects'))).toThrow(expect.objectContaining({ errno: -2, syscall: 'open' }) as Error);
  });

  it('reports links refused across filesystems as copies instead of failing', async () => {
    if (!existsSync('/dev/shm') || statSync('/dev/shm').dev === statSync(makeTmpDir()).dev) {
      throw new Error('this test needs /dev/shm on a different filesystem from the temp dir');
    }
    const shm = mkdtempSync('/dev/shm/ots-test-');
    try {
      const objects = objectsWith(shm, { 'ab/cdef.file': 'x' });
      const root = makeTmpDir();
      const res = await runPlan(sys(), objects, [['C', root], ['L', 'ab/cdef.file', 'f']]);
      expect(res).toEqual({ ops: 2, copies: [[`${root}/f`, 'ab/cdef.file']] });
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  });
});
