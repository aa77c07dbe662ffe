// Interop both ways with the real ostree CLI, per repo mode: a tree committed
// by ots is fsck'ed, checked out and read by ostree; a tree committed by
// ostree is read, checked out and fsck'ed by ots; identical input gives
// identical objects and commit checksums.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nativeSys } from '../../../shared/native/sys.js';
import type { Checksum } from '../../../shared/objects/index.js';
import { Repo, checkoutCommit } from '../../../shared/repo/index.js';
import { diffTrees } from '../../helpers/compare-trees.js';
import { OTS_BIN, ostree, ots, otsRun, run, runOk } from '../../helpers/run.js';
import { makeSampleTree } from '../../helpers/sample-tree.js';
import { makeTmpDir } from '../../helpers/tmp.js';

const COMMIT_ARGS = ['-b', 'os/main', '-s', 'Subject line', '--body=Body\ntext', '--timestamp=@1704067200',
  '--add-metadata-string=version=42.1', '--add-metadata-string=vendor.key=value'];

function listObjects(repo: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync(join(repo, 'objects'))) for (const n of readdirSync(join(repo, 'objects', p))) out.push(`${p}${n}`);
  return out.sort();
}

describe.each(['archive', 'bare-user'] as const)('%s repositories', (mode) => {
  // ostree checks out bare-user repos in user mode only; then setuid bits and xattrs are not restored.
  const userMode = mode === 'bare-user';
  const checkoutFlags = userMode ? ['-U'] : [];
  const cmp = userMode ? { modeMask: 0o777 } : { ownership: true, xattrs: true, dirModes: true };

  it('ots commit → ostree fsck, checkout, ls, show, log, summary', async () => {
    const t = makeTmpDir();
    makeSampleTree(join(t, 'src'));
    const repo = join(t, 'repo');
    await ots(`--repo=${repo}`, 'init', `--mode=${mode}`);
    const csum = (await ots(`--repo=${repo}`, 'commit', ...COMMIT_ARGS, join(t, 'src'))).trim();
    expect(csum).toMatch(/^[0-9a-f]{64}$/);
    await ostree('fsck', `--repo=${repo}`);
    await ostree('checkout', `--repo=${repo}`, ...checkoutFlags, 'os/main', join(t, 'out'));
    expect(diffTrees(join(t, 'src'), join(t, 'out'), cmp)).toEqual([]);
    expect(await ostree('ls', `--repo=${repo}`, '-R', 'os/main')).toBe(await ots(`--repo=${repo}`, 'ls', '-R', 'os/main'));
    expect(await ostree('show', `--repo=${repo}`, 'os/main')).toBe(await ots(`--repo=${repo}`, 'show', 'os/main'));
    expect(await ostree('log', `--repo=${repo}`, 'os/main')).toContain(csum);
    expect(await ostree('cat', `--repo=${repo}`, 'os/main', '/etc/a.conf')).toBe('conf=1\n');
    await ots(`--repo=${repo}`, 'summary', '-u');
    const view = await ostree('summary', `--repo=${repo}`, '-v');
    expect(view).toContain('os/main');
    expect(view).toContain(csum);
  });

  it('ostree commit → ots fsck, ls, cat, checkout, summary', async () => {
    const t = makeTmpDir();
    makeSampleTree(join(t, 'src'));
    const repo = join(t, 'repo');
    await ostree('init', `--repo=${repo}`, `--mode=${mode}`);
    const csum = (await ostree('commit', `--repo=${repo}`, ...COMMIT_ARGS, join(t, 'src'))).trim();
    expect(await ots(`--repo=${repo}`, 'fsck')).toContain('Verified');
    expect(await ots(`--repo=${repo}`, 'rev-parse', 'os/main')).toBe(`${csum}\n`);
    expect(await ots(`--repo=${repo}`, 'ls', '-R', 'os/main')).toBe(await ostree('ls', `--repo=${repo}`, '-R', 'os/main'));
    expect(await ots(`--repo=${repo}`, 'cat', 'os/main', '/srv/ünïcødé/日本語.txt')).toBe('non-ascii\n');
    await ots(`--repo=${repo}`, 'checkout', ...checkoutFlags, 'os/main', join(t, 'out'));
    expect(diffTrees(join(t, 'src'), join(t, 'out'), cmp)).toEqual([]);
    await ostree('summary', `--repo=${repo}`, '-u');
    const view = JSON.parse(await ots(`--repo=${repo}`, 'summary', '-v', '--json')) as { refs: { name: string; checksum: string }[] };
    expect(view.refs).toEqual([expect.objectContaining({ name: 'os/main', checksum: csum })]);
  });

  it.each([
    ['with xattrs', []],
    ['without xattrs', ['--no-xattrs']],
    ['with owner overrides', ['--owner-uid=1000', '--owner-gid=100']],
  ])('identical objects and commit checksum to ostree, %s', async (_label, extra) => {
    const t = makeTmpDir();
    makeSampleTree(join(t, 'src'));
    await ostree('init', `--repo=${join(t, 'theirs')}`, `--mode=${mode}`);
    await ots(`--repo=${join(t, 'ours')}`, 'init', `--mode=${mode}`);
    const parentArgs = [...COMMIT_ARGS, ...extra, join(t, 'src')];
    const theirs = (await ostree('commit', `--repo=${join(t, 'theirs')}`, ...parentArgs)).trim();
    const ours = (await ots(`--repo=${join(t, 'ours')}`, 'commit', ...parentArgs)).trim();
    expect(ours).toBe(theirs);
    // A second commit on the branch gets the first as parent in both tools.
    makeSampleTree(join(t, 'src2'), { variant: 1 });
    const args2 = [...COMMIT_ARGS, ...extra, join(t, 'src2')];
    expect((await ots(`--repo=${join(t, 'ours')}`, 'commit', ...args2)).trim())
      .toBe((await ostree('commit', `--repo=${join(t, 'theirs')}`, ...args2)).trim());
    expect(listObjects(join(t, 'ours'))).toEqual(listObjects(join(t, 'theirs')));
  });
});

// With the native tree walk (native/checkout.c: bare-user-only), the native
// checkout plan (native/ots_sys.c: bare-user) and the portable walk.
describe.each([
  ['native tree walk', 'bare-user-only', {}], ['native plan', 'bare-user', {}], ['portable walk', 'bare-user', { OTS_NO_NATIVE: '1' }],
] as const)('hardlink checkout (-H), %s', (_label, mode, env) => {
  it('links every file to its object, from a relative repo into a relative destination, equal to ostree checkout', async () => {
    const t = makeTmpDir();
    makeSampleTree(join(t, 'src'));
    const repo = join(t, 'repo');
    await ostree('init', `--repo=${repo}`, `--mode=${mode}`);
    const csum = (await ostree('commit', `--repo=${repo}`, ...COMMIT_ARGS, join(t, 'src'))).trim();
    await runOk(OTS_BIN, ['--repo=repo', 'checkout', '-U', '-H', csum, 'ours'], { cwd: t, env });
    await ostree('checkout', `--repo=${repo}`, '-U', '-H', csum, join(t, 'theirs'));
    expect(diffTrees(join(t, 'theirs'), join(t, 'ours'), { modeMask: 0o7777, dirModes: true })).toEqual([]);
    expect(diffTrees(join(t, 'src'), join(t, 'ours'), { modeMask: 0o777 })).toEqual([]);
    // Every regular file is the object itself (same inode), as with ostree -H.
    const objects = new Set(listObjects(repo).filter((o) => o.endsWith('.file')).map((o) => lstatSync(join(repo, 'objects', o.slice(0, 2), o.slice(2))).ino));
    let files = 0;
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) { files++; expect(objects.has(lstatSync(p).ino), p).toBe(true); }
      }
    };
    walk(join(t, 'ours'));
    expect(files).toBeGreaterThan(5);
  });

  it('-H fails on another filesystem, as ostree does; a deploy-style hardlink checkout copies instead', async () => {
    const t = makeTmpDir();
    const shm = mkdtempSync('/dev/shm/ots-test-');
    onTestFinished(() => rmSync(shm, { recursive: true, force: true }));
    expect(statSync(shm).dev, 'needs /dev/shm on another filesystem than the temp dir').not.toBe(statSync(t).dev);
    makeSampleTree(join(t, 'src'));
    await ostree('init', `--repo=${join(shm, 'repo')}`, `--mode=${mode}`);
    const csum = (await ostree('commit', `--repo=${join(shm, 'repo')}`, ...COMMIT_ARGS, join(t, 'src'))).trim();
    const strict = await otsRun([`--repo=${join(shm, 'repo')}`, 'checkout', '-U', '-H', csum, join(t, 'linked')], { env });
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/Hardlinking \S+ failed: (repository and destination are on different filesystems|another filesystem)/);
    expect((await run('ostree', ['checkout', `--repo=${join(shm, 'repo')}`, '-U', '-H', csum, join(t, 'theirs')])).code).not.toBe(0);
    // What admin deploy asks for: hardlinks where possible, copies where refused (in this process: the native plan).
    await checkoutCommit(await Repo.open(join(shm, 'repo')), csum as Checksum, join(t, 'copied'), { hardlink: true, userMode: true });
    expect(diffTrees(join(t, 'src'), join(t, 'copied'), { modeMask: 0o777, dirModes: true })).toEqual([]);
  });
});

describe('xattrs on symlinks (bare repos, as root)', () => {
  it('are committed, fscked and checked out as ostree does: same checksum both ways', async () => {
    expect(process.getuid?.(), 'trusted.* xattrs need root: run the suite as root, as .ci/run does').toBe(0);
    const native = nativeSys();
    expect(native, 'native helper missing: run npm ci').not.toBeNull();
    const t = makeTmpDir();
    const src = join(t, 'src');
    mkdirSync(join(src, 'usr/bin'), { recursive: true });
    writeFileSync(join(src, 'usr/bin/tool'), 'tool\n');
    symlinkSync('tool', join(src, 'usr/bin/alias'));
    native!.lsetxattr(join(src, 'usr/bin/alias'), 'trusted.ots.label', Buffer.from('link_t'));
    native!.lsetxattr(join(src, 'usr/bin/tool'), 'trusted.ots.label', Buffer.from('bin_t'));
    for (const r of ['theirs', 'ours']) await ostree('init', `--repo=${join(t, r)}`, '--mode=bare');
    const theirs = (await ostree('commit', `--repo=${join(t, 'theirs')}`, '-b', 'm', '--timestamp=@1700000000', src)).trim();
    const ours = (await ots(`--repo=${join(t, 'ours')}`, 'commit', '-b', 'm', '--timestamp=@1700000000', src)).trim();
    expect(ours).toBe(theirs);
    expect(await ostree('ls', `--repo=${join(t, 'ours')}`, '-X', 'm', '/usr/bin/alias')).toContain("b'trusted.ots.label'");
    // Each tool verifies the other's symlink object (its checksum covers the xattr).
    expect(await ots(`--repo=${join(t, 'theirs')}`, 'fsck')).toContain('Verified');
    await ostree('fsck', `--repo=${join(t, 'ours')}`);
    await ots(`--repo=${join(t, 'theirs')}`, 'checkout', 'm', join(t, 'co'));
    expect(native!.lxattrs(join(t, 'co/usr/bin/alias')).map((x) => [x.name, Buffer.from(x.value).toString()])).toEqual([['trusted.ots.label', 'link_t']]);
  });
});

describe('summary', () => {
  it('ots summary -u writes the same refs and keys as ostree summary -u', async () => {
    const t = makeTmpDir();
    makeSampleTree(join(t, 'src'));
    for (const [tool, repo] of [['ots', 'ours'], ['ostree', 'theirs']] as const) {
      const r = join(t, repo);
      const run = tool === 'ots' ? (...a: string[]) => ots(`--repo=${r}`, ...a) : (...a: string[]) => ostree(`--repo=${r}`, ...a);
      await run('init', '--mode=archive');
      for (const b of ['b/two', 'a/one', 'c']) await run('commit', '-b', b, '--timestamp=@1700000000', '--add-metadata-string=version=1', join(t, 'src'));
      await run('summary', '-u');
    }
    const view = async (r: string) => JSON.parse(await ots(`--repo=${join(t, r)}`, 'summary', '-v', '--json')) as {
      refs: unknown[]; metadata: Record<string, unknown>;
    };
    const ours = await view('ours');
    const theirs = await view('theirs');
    expect(ours.refs).toEqual(theirs.refs);
    expect(Object.keys(ours.metadata)).toEqual(Object.keys(theirs.metadata));
    expect({ ...ours.metadata, 'ostree.summary.last-modified': 0 }).toEqual({ ...theirs.metadata, 'ostree.summary.last-modified': 0 });
  });
});
