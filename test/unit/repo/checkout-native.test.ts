// The native tree checkout (native/checkout.c, taken by hardlink checkouts
// from bare and bare-user-only repos: deployments) on hand-made objects:
// the tree it writes, and hostile or damaged trees, each refused with the
// typed error the TypeScript walk gives and nothing written outside the
// destination.
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encode } from '../../../shared/gvariant/index.js';
import { nativeSys } from '../../../shared/native/sys.js';
import {
  DIRTREE_FORMAT, checksumOf, checksumToBytes, encodeCommit, encodeDirmeta, encodeFileHeader, type Checksum, type ObjectType,
} from '../../../shared/objects/index.js';
import { Repo, checkoutCommit } from '../../../shared/repo/index.js';
import { makeTmpDir } from '../../helpers/tmp.js';

interface Fixture { repo: Repo; path: string; raw: (bytes: Uint8Array, type: ObjectType) => Checksum }

async function fixture(): Promise<Fixture> {
  const path = join(makeTmpDir(), 'repo');
  const repo = await Repo.create(path, 'bare-user-only');
  const raw = (bytes: Uint8Array, type: ObjectType): Checksum => {
    const c = checksumOf(bytes);
    const p = repo.objectPath(c, type);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, bytes);
    return c;
  };
  return { repo, path, raw };
}

function fileObject(f: Fixture, text: string, mode = 0o100644): Checksum {
  const payload = Buffer.from(text);
  const c = checksumOf(encodeFileHeader({ uid: 0, gid: 0, mode, rdev: 0, symlinkTarget: '', xattrs: [] }), payload);
  const p = f.repo.objectPath(c, 'file');
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, payload, { mode: mode & 0o7777 });
  return c;
}

/** A dirtree written as given: no sorting, no name checks (hostile trees). */
function tree(f: Fixture, files: [string, Checksum][], dirs: [string, Checksum, Checksum][] = []): Checksum {
  return f.raw(encode(DIRTREE_FORMAT, [
    files.map(([n, c]) => [n, checksumToBytes(c)]),
    dirs.map(([n, t, m]) => [n, checksumToBytes(t), checksumToBytes(m)]),
  ]), 'dirtree');
}

function meta(f: Fixture, mode = 0o40755, owner?: number): Checksum {
  return f.raw(encodeDirmeta({ uid: owner ?? process.getuid?.() ?? 0, gid: owner ?? process.getgid?.() ?? 0, mode, xattrs: [] }), 'dirmeta');
}

function commit(f: Fixture, root: Checksum, rootMeta: Checksum): Checksum {
  return f.raw(encodeCommit({
    metadata: [], parent: null, related: [], subject: 'test', body: '', timestamp: 1700000000n, rootDirtree: root, rootDirmeta: rootMeta,
  }), 'commit');
}

async function checkout(f: Fixture, c: Checksum, userMode = true): Promise<{ dest: string; error?: unknown }> {
  const dest = join(dirname(f.path), 'co');
  try {
    await checkoutCommit(f.repo, c, dest, { hardlink: true, userMode });
    return { dest };
  } catch (error: unknown) {
    return { dest, error };
  }
}

describe('native tree checkout', () => {
  it('is the path hardlink checkouts from bare-user-only take (native helper built)', () => {
    expect(nativeSys()?.checkoutTree).toBeTypeOf('function');
  });

  it('links every file, makes every directory with its mode, read-only ones included', async () => {
    const f = await fixture();
    const m = meta(f);
    const ro = meta(f, 0o40555);
    const a = fileObject(f, 'a\n');
    const x = fileObject(f, '#!/bin/sh\n', 0o100755);
    let sub = tree(f, [['leaf', a]]);
    for (let i = 0; i < 30; i++) sub = tree(f, [[`f${i}`, x]], [['deeper', sub, i % 2 ? ro : m]]);
    const wide = Array.from({ length: 40 }, (_, i): [string, Checksum, Checksum] => [`d${String(i).padStart(2, '0')}`, sub, i % 3 ? ro : m]);
    const root = tree(f, [['a', a], ['x', x]], wide);
    const { dest, error } = await checkout(f, commit(f, root, m));
    expect(error).toBeUndefined();
    expect(statSync(join(dest, 'a')).ino).toBe(statSync(f.repo.objectPath(a, 'file')).ino);
    expect(readdirSync(dest)).toHaveLength(42);
    let dirs = 0;
    let files = 0;
    const walk = (p: string): void => {
      for (const e of readdirSync(p, { withFileTypes: true })) {
        if (e.isDirectory()) { dirs++; walk(join(p, e.name)); } else files++;
      }
    };
    walk(dest);
    expect(dirs).toBe(40 * 31);
    expect(files).toBe(2 + 40 * 31);
    expect(lstatSync(join(dest, 'd01')).mode & 0o7777).toBe(0o555);
    expect(lstatSync(join(dest, 'd00')).mode & 0o7777).toBe(0o755);
    expect(lstatSync(join(dest, 'd03')).mode & 0o7777).toBe(0o755);
    expect(lstatSync(join(dest, 'd02')).mode & 0o7777).toBe(0o555);
    expect(lstatSync(join(dest, 'd01/deeper')).mode & 0o7777).toBe(0o555);
    expect(lstatSync(join(dest, 'd01/f29')).mode & 0o7777).toBe(0o755);
  });

  it('owns directories as their dirmeta says, unless in user mode (-U)', async () => {
    expect(process.getuid?.(), 'chown needs root: run the suite as root, as .ci/run does').toBe(0);
    for (const userMode of [true, false]) {
      const f = await fixture();
      const other = meta(f, 0o40750, 4242);
      const root = tree(f, [['a', fileObject(f, 'a')]], [['theirs', tree(f, []), other], ['ours', tree(f, []), meta(f)]]);
      const { dest, error } = await checkout(f, commit(f, root, meta(f)), userMode);
      expect(error).toBeUndefined();
      expect(lstatSync(join(dest, 'theirs')).uid, `userMode ${userMode}`).toBe(userMode ? 0 : 4242);
      expect(lstatSync(join(dest, 'theirs')).gid).toBe(userMode ? 0 : 4242);
      expect(lstatSync(join(dest, 'theirs')).mode & 0o7777).toBe(0o750);
      expect(lstatSync(join(dest, 'ours')).uid).toBe(0);
    }
  });

  it.each([
    ['a file named ..', (f: Fixture) => tree(f, [['..', fileObject(f, 'x')]]), 'ERR_UNSAFE_PATH'],
    ['a file named ../x', (f: Fixture) => tree(f, [['../x', fileObject(f, 'x')]]), 'ERR_UNSAFE_PATH'],
    ['a directory named ../../escape', (f: Fixture) => tree(f, [], [['../../escape', tree(f, []), meta(f)]]), 'ERR_UNSAFE_PATH'],
    ['an absolute name', (f: Fixture) => tree(f, [['/etc/passwd', fileObject(f, 'x')]]), 'ERR_UNSAFE_PATH'],
    ['a file and a directory of the same name', (f: Fixture) => tree(f, [['same', fileObject(f, 'x')]], [['same', tree(f, []), meta(f)]]), 'ERR_UNSAFE_PATH'],
    ['a missing subtree', (f: Fixture) => tree(f, [], [['gone', checksumOf(Buffer.from('nothing')), meta(f)]]), 'ERR_OBJECT_NOT_FOUND'],
    ['a missing dirmeta', (f: Fixture) => tree(f, [], [['d', tree(f, []), checksumOf(Buffer.from('no meta'))]]), 'ERR_OBJECT_NOT_FOUND'],
    ['a non-directory dirmeta', (f: Fixture) => tree(f, [], [['d', tree(f, []), meta(f, 0o100644)]]), 'ERR_BAD_FORMAT'],
    ['a corrupt subtree', (f: Fixture) => {
      const sub = tree(f, [['a', fileObject(f, 'x')]]);
      writeFileSync(f.repo.objectPath(sub, 'dirtree'), encode(DIRTREE_FORMAT, [[['b', checksumToBytes(fileObject(f, 'x'))]], []]));
      return tree(f, [], [['d', sub, meta(f)]]);
    }, 'ERR_CHECKSUM_MISMATCH'],
    ['a subtree that is a symlink', (f: Fixture) => {
      const sub = checksumOf(Buffer.from('link'));
      const p = f.repo.objectPath(sub, 'dirtree');
      mkdirSync(dirname(p), { recursive: true });
      symlinkSync('/etc/hostname', p);
      return tree(f, [], [['d', sub, meta(f)]]);
    }, 'ELOOP'],
    ['a subtree that is a FIFO (no hang)', (f: Fixture) => {
      const sub = checksumOf(Buffer.from('fifo'));
      const p = f.repo.objectPath(sub, 'dirtree');
      mkdirSync(dirname(p), { recursive: true });
      execFileSync('mkfifo', [p]);
      return tree(f, [], [['d', sub, meta(f)]]);
    }, 'ERR_BAD_FORMAT'],
    ['directories nested 1,100 deep', (f: Fixture) => {
      const m = meta(f);
      let t = tree(f, []);
      for (let i = 0; i < 1100; i++) t = tree(f, [], [['d', t, m]]);
      return t;
    }, 'ERR_BAD_FORMAT'],
  ])('refuses %s with %s, writing nothing outside the checkout', async (_name, make, code) => {
    const f = await fixture();
    const root = make(f);
    const before = readdirSync(dirname(f.path)).sort();
    const { error } = await checkout(f, commit(f, root, meta(f)));
    expect(error).toBeInstanceOf(Error);
    expect((error as { code?: string }).code).toBe(code);
    if (code === 'ERR_CHECKSUM_MISMATCH' || code === 'ERR_OBJECT_NOT_FOUND') expect((error as { checksum?: string }).checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(dirname(f.path)).sort()).toEqual([...before, 'co'].sort());
    expect(readdirSync('/').includes('escape')).toBe(false);
  });

  it('the TypeScript readers refuse a FIFO metadata object too, instead of blocking', async () => {
    const f = await fixture();
    const sub = checksumOf(Buffer.from('fifo'));
    const p = f.repo.objectPath(sub, 'dirtree');
    mkdirSync(dirname(p), { recursive: true });
    execFileSync('mkfifo', [p]);
    expect(() => f.repo.loadDirtreeSync(sub)).toThrow(expect.objectContaining({ code: 'ERR_BAD_FORMAT' }));
    await expect(f.repo.readMetadata(sub, 'dirtree')).rejects.toMatchObject({ code: 'ERR_BAD_FORMAT' });
    await expect(f.repo.readMetadata(checksumOf(Buffer.from('absent')), 'dirtree')).rejects.toMatchObject({ code: 'ERR_OBJECT_NOT_FOUND' });
  });
});
