// ots admin against stock ostree: deployments ots writes are listed by
// `ostree admin status`; upgrade and rollback; the deployment equals an
// ostree checkout; BLS entries; the same commits deployed by stock ostree give
// the same /boot and /ostree trees; /etc three-way merge cases.
import { chmodSync, closeSync, lstatSync, openSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffTrees } from '../../helpers/compare-trees.js';
import { makeOsTree } from '../../helpers/os-tree.js';
import { nativeSys } from '../../../shared/native/sys.js';
import { ostree, ots, otsRun, run, runOk, type RunResult } from '../../helpers/run.js';
import { startOtsServer } from '../../helpers/servers.js';
import { makeTmpDir } from '../../helpers/tmp.js';
import { mountTmpfs } from '../../helpers/tmpfs.js';

const REF = 'testos/x86_64/stable';

/** Source repo with versions 1..n of the OS tree on REF, served by ots-server. */
async function source(t: string, n: number): Promise<{ url: string; commits: string[]; repo: string }> {
  const repo = join(t, 'src');
  await ots(`--repo=${repo}`, 'init', '--mode=archive');
  const commits: string[] = [];
  for (let v = 1; v <= n; v++) {
    makeOsTree(join(t, `tree${v}`), v, { kernel: v >= 3 ? 'KERNEL3' : 'KERNEL' });
    commits.push((await ots(`--repo=${repo}`, 'commit', '-b', REF, `--add-metadata-string=version=${v}`, `--timestamp=@${1700000000 + v}`, join(t, `tree${v}`))).trim());
  }
  await ots(`--repo=${repo}`, 'summary', '-u');
  const srv = await startOtsServer(repo);
  return { url: srv.url, commits, repo };
}

async function sysroot(dir: string, url: string, tool: 'ots' | 'ostree'): Promise<void> {
  const run = tool === 'ots' ? ots : ostree;
  if (tool === 'ots') {
    await ots('admin', 'init-fs', dir);
    await ots('admin', 'os-init', `--sysroot=${dir}`, 'testos');
    await ots(`--repo=${dir}/ostree/repo`, 'remote', 'add', '--no-gpg-verify', 'testos', url);
    await ots(`--repo=${dir}/ostree/repo`, 'pull', '--depth=-1', 'testos', REF);
  } else {
    await run('admin', 'init-fs', dir);
    await run('admin', 'os-init', `--sysroot=${dir}`, 'testos');
    await run('remote', 'add', `--repo=${dir}/ostree/repo`, '--no-gpg-verify', 'testos', url);
    await run('pull', `--repo=${dir}/ostree/repo`, '--depth=-1', 'testos', REF);
  }
}

/** objects/XX/NAME of a repo, sorted. */
function objectFiles(repo: string): string[] {
  return readdirSync(join(repo, 'objects')).flatMap((p) => readdirSync(join(repo, 'objects', p)).map((n) => `${p}/${n}`)).sort();
}

function statusIds(text: string): string[] {
  return [...text.matchAll(/^\*? *testos ([0-9a-f]{64}\.\d+)/gm)].map((m) => m[1] as string);
}

/** Every path under `root` (skipping ostree/repo) with its kind and, for links and files, target or content. */
function layout(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (r === 'ostree/repo' || r.startsWith('ostree/deploy/testos/deploy/')) continue;
      const st = lstatSync(join(root, r));
      if (st.isSymbolicLink()) out.push(`${r} -> ${readlinkSync(join(root, r))}`);
      else if (st.isDirectory()) { out.push(`${r}/`); walk(r); }
      else out.push(`${r} = ${readFileSync(join(root, r), 'utf8').replace(/\n/g, '|')}`);
    }
  };
  walk('');
  return out;
}

describe('ots admin deploy', () => {
  it('deploys, upgrades and rolls back; stock ostree admin status agrees at each step', async () => {
    const t = makeTmpDir();
    const { url, commits } = await source(t, 2);
    const S = join(t, 'sysroot');
    await sysroot(S, url, 'ots');
    // Deploy v1 by checksum under the branch's refspec, then upgrade to the branch head (v2).
    await ots('admin', 'deploy', `--sysroot=${S}`, '--os=testos', '--karg=root=LABEL=root', commits[0] as string);
    expect(statusIds(await ostree('admin', 'status', `--sysroot=${S}`))).toEqual([`${commits[0]}.0`]);
    writeFileSync(join(S, 'ostree/deploy/testos/deploy', `${commits[0]}.0.origin`), `[origin]\nrefspec=testos:${REF}\n`);
    await ots('admin', 'upgrade', `--sysroot=${S}`);
    const afterUpgrade = statusIds(await ostree('admin', 'status', `--sysroot=${S}`));
    expect(afterUpgrade).toEqual([`${commits[1]}.0`, `${commits[0]}.0`]);
    await ots('admin', 'rollback', `--sysroot=${S}`);
    expect(statusIds(await ostree('admin', 'status', `--sysroot=${S}`))).toEqual([`${commits[0]}.0`, `${commits[1]}.0`]);
    const json = JSON.parse(await ots('admin', 'status', `--sysroot=${S}`, '--json')) as { checksum: string }[];
    expect(json.map((d) => d.checksum)).toEqual([commits[0], commits[1]]);
  });

  it('the deployment equals ostree checkout; BLS entry has linux, initrd, options ostree= and version', async () => {
    const t = makeTmpDir();
    const { url, commits } = await source(t, 1);
    const S = join(t, 'sysroot');
    await sysroot(S, url, 'ots');
    await ots('admin', 'deploy', `--sysroot=${S}`, '--os=testos', '--karg=root=LABEL=root', '--karg=quiet', commits[0] as string);
    const dep = join(S, 'ostree/deploy/testos/deploy', `${commits[0]}.0`);
    await ostree('checkout', `--repo=${S}/ostree/repo`, commits[0] as string, join(t, 'co'));
    const diffs = diffTrees(join(t, 'co'), dep, { ownership: true, dirModes: true });
    expect(diffs.filter((d) => !d.startsWith('etc'))).toEqual([]);
    expect(diffTrees(join(dep, 'usr/etc'), join(dep, 'etc'), { ownership: true, dirModes: true })).toEqual([]);
    expect(lstatSync(join(dep, 'usr/bin/sh')).nlink).toBeGreaterThan(1);
    const entries = readdirSync(join(S, 'boot/loader/entries'));
    expect(entries).toEqual(['ostree-1-testos.conf']);
    const conf = readFileSync(join(S, 'boot/loader/entries', entries[0] as string), 'utf8');
    const bootcsum = (await runOk('sh', ['-c', `cat ${join(t, 'tree1/usr/lib/modules/6.1.0/vmlinuz')} ${join(t, 'tree1/usr/lib/modules/6.1.0/initramfs.img')} | sha256sum`])).slice(0, 64);
    expect(conf).toBe([
      'title Test OS 1 (ostree:0)', 'version 1',
      `options root=LABEL=root quiet ostree=/ostree/boot.1/testos/${bootcsum}/0`,
      `linux /ostree/testos-${bootcsum}/vmlinuz-6.1.0`, `initrd /ostree/testos-${bootcsum}/initramfs-6.1.0.img`, '',
    ].join('\n'));
    expect(realpathSync(join(S, `ostree/boot.1/testos/${bootcsum}/0`))).toBe(realpathSync(dep));
    expect(readFileSync(join(S, `boot/ostree/testos-${bootcsum}/vmlinuz-6.1.0`), 'utf8')).toBe('KERNEL');
  });

  it('without the native helpers (OTS_NO_NATIVE=1) the deployment is the same: portable checkout, sync -f, no locks', async () => {
    const t = makeTmpDir();
    const { url, commits } = await source(t, 1);
    const S = join(t, 'sysroot');
    await sysroot(S, url, 'ots');
    const r = await otsRun(['admin', 'deploy', `--sysroot=${S}`, '--os=testos', '--karg=root=LABEL=root', commits[0] as string], { env: { OTS_NO_NATIVE: '1' } });
    expect(r.code, r.stderr).toBe(0);
    const dep = join(S, 'ostree/deploy/testos/deploy', `${commits[0]}.0`);
    await ostree('checkout', `--repo=${S}/ostree/repo`, commits[0] as string, join(t, 'co'));
    expect(diffTrees(join(t, 'co'), dep, { ownership: true, dirModes: true }).filter((d) => !d.startsWith('etc'))).toEqual([]);
    expect(lstatSync(join(dep, 'usr/bin/sh')).nlink).toBeGreaterThan(1);
    expect(statusIds(await ostree('admin', 'status', `--sysroot=${S}`))).toEqual([`${commits[0]}.0`]);
    await ostree('fsck', `--repo=${S}/ostree/repo`);
  });

  it('gives the same /boot and /ostree trees as stock ostree admin deploy of the same commits', async () => {
    const t = makeTmpDir();
    const { url, commits } = await source(t, 3);
    const ours = join(t, 'ours');
    const theirs = join(t, 'theirs');
    await mountTmpfs(theirs);
    await sysroot(ours, url, 'ots');
    await sysroot(theirs, url, 'ostree');
    const env = { OSTREE_SYSROOT_DEBUG: 'mutable-deployments' };
    for (const c of commits) {
      // Stock deploy prunes commits no ref or deployment holds, so pull each one as the ref's target first.
      await ots(`--repo=${ours}/ostree/repo`, 'pull', 'testos', `${REF}@${c}`);
      await ostree('pull', `--repo=${theirs}/ostree/repo`, 'testos', `${REF}@${c}`);
      await ots('admin', 'deploy', `--sysroot=${ours}`, '--os=testos', '--karg=root=LABEL=root', c);
      await runOk('ostree', ['admin', 'deploy', `--sysroot=${theirs}`, '--os=testos', '--karg=root=LABEL=root', c], { env });
    }
    expect(layout(ours)).toEqual(layout(theirs));
    expect(readdirSync(join(ours, 'ostree/deploy/testos/deploy')).sort()).toEqual(readdirSync(join(theirs, 'ostree/deploy/testos/deploy')).sort());
    expect(readdirSync(join(ours, 'ostree/repo/refs/heads/ostree/1/1')).sort()).toEqual(readdirSync(join(theirs, 'ostree/repo/refs/heads/ostree/1/1')).sort());
    // Both deploys end with the same prune (refs and deployments, depth 0): the same objects remain.
    expect(objectFiles(join(ours, 'ostree/repo'))).toEqual(objectFiles(join(theirs, 'ostree/repo')));
    expect(objectFiles(join(ours, 'ostree/repo')).some((o) => o.startsWith(commits[0]!.slice(0, 2)) && o.endsWith('.commit') && o.slice(3, 65) === commits[0]!.slice(2))).toBe(false);
    await ostree('fsck', `--repo=${ours}/ostree/repo`);
  });

  it('merges /etc: local edits win, new defaults arrive, deletions stay, modes and symlinks carry over', async () => {
    const t = makeTmpDir();
    const { url, commits } = await source(t, 2);
    const S = join(t, 'sysroot');
    await sysroot(S, url, 'ots');
    await ots('admin', 'deploy', `--sysroot=${S}`, '--os=testos', commits[0] as string);
    const etc1 = join(S, 'ostree/deploy/testos/deploy', `${commits[0]}.0`, 'etc');
    writeFileSync(join(etc1, 'motd'), 'my own motd\n');        // changed in both: local wins
    writeFileSync(join(etc1, 'hosts'), '10.0.0.1 myhost\n');    // changed locally only
    unlinkSync(join(etc1, 'passwd'));                           // deleted locally
    writeFileSync(join(etc1, 'local.conf'), 'mine\n');          // added locally
    chmodSync(join(etc1, 'secret.conf'), 0o640);                // permissions changed
    symlinkSync('/usr/share/zoneinfo/UTC', join(etc1, 'localtime')); // local symlink
    rmSync(join(etc1, 'ssh'), { recursive: true });             // deleted directory
    const out = await ots('admin', 'deploy', `--sysroot=${S}`, '--os=testos', commits[1] as string);
    expect(out).toContain('Copying /etc changes: 3 modified, 2 removed, 2 added');
    const etc2 = join(S, 'ostree/deploy/testos/deploy', `${commits[1]}.0`, 'etc');
    expect(readFileSync(join(etc2, 'motd'), 'utf8')).toBe('my own motd\n');
    expect(readFileSync(join(etc2, 'hosts'), 'utf8')).toBe('10.0.0.1 myhost\n');
    expect(() => lstatSync(join(etc2, 'passwd'))).toThrow();
    expect(() => lstatSync(join(etc2, 'ssh'))).toThrow();
    expect(readFileSync(join(etc2, 'local.conf'), 'utf8')).toBe('mine\n');
    expect(readFileSync(join(etc2, 'new-in-2.conf'), 'utf8')).toBe('new\n');
    expect(lstatSync(join(etc2, 'secret.conf')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(etc2, 'secret.conf'), 'utf8')).toBe('secret=1\n');
    expect(readlinkSync(join(etc2, 'localtime'))).toBe('/usr/share/zoneinfo/UTC');
    // The old deployment is untouched (it is the rollback target).
    expect(readFileSync(join(etc1, 'motd'), 'utf8')).toBe('my own motd\n');
    expect(statusIds(await ostree('admin', 'status', `--sysroot=${S}`))).toEqual([`${commits[1]}.0`, `${commits[0]}.0`]);
  });
});

describe('sysroot lock', () => {
  it('ots admin and ostree admin both wait while SYSROOT/ostree/lock is held, then proceed', async () => {
    const native = nativeSys();
    expect(native, 'native helper missing: run npm ci').not.toBeNull();
    const t = makeTmpDir();
    const { url, commits } = await source(t, 1);
    const S = join(t, 'sysroot');
    await sysroot(S, url, 'ots');
    await ots('admin', 'deploy', `--sysroot=${S}`, '--os=testos', commits[0] as string);
    const fd = openSync(join(S, 'ostree/lock'), 'a+');
    let finished = 0;
    let ours: Promise<RunResult>;
    let theirs: Promise<RunResult>;
    try {
      expect(native!.lock(fd, 2)).toBe(true);
      ours = otsRun(['admin', 'cleanup', `--sysroot=${S}`]).finally(() => { finished++; });
      theirs = run('ostree', ['admin', 'cleanup', `--sysroot=${S}`], { timeoutMs: 60_000 }).finally(() => { finished++; });
      await new Promise((r) => setTimeout(r, 1500));
      expect(finished).toBe(0);
    } finally {
      closeSync(fd);
    }
    const [a, b] = await Promise.all([ours, theirs]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toContain('Waiting for sysroot lock');
    expect(b.code, b.stderr).toBe(0);
    expect(statusIds(await ostree('admin', 'status', `--sysroot=${S}`))).toEqual([`${commits[0]}.0`]);
  });
});

describe('remotes.d', () => {
  it('a remote defined in SYSROOT/etc/ostree/remotes.d is used by pull and admin upgrade', async () => {
    const t = makeTmpDir();
    const { url, commits } = await source(t, 2);
    const S = join(t, 'sysroot');
    await ots('admin', 'init-fs', S);
    await ots('admin', 'os-init', `--sysroot=${S}`, 'testos');
    mkdirSync(join(S, 'etc/ostree/remotes.d'), { recursive: true });
    writeFileSync(join(S, 'etc/ostree/remotes.d/testos.conf'), `[remote "testos"]\nurl=${url}\ngpg-verify=false\n`);
    expect(await ots(`--repo=${S}/ostree/repo`, 'remote', 'list', '-u')).toContain(url);
    await ots(`--repo=${S}/ostree/repo`, 'pull', 'testos', `${REF}@${commits[0]}`);
    await ots('admin', 'deploy', `--sysroot=${S}`, '--os=testos', `testos:${REF}`);
    await ots('admin', 'upgrade', `--sysroot=${S}`);
    expect(statusIds(await ostree('admin', 'status', `--sysroot=${S}`))).toEqual([`${commits[1]}.0`, `${commits[0]}.0`]);
  });
});
