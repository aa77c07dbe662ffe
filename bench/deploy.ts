// bench/deploy: first deployment and upgrade deployment (with /etc merge) of
// a Debian minbase tree (+ a stand-in kernel), `ots admin deploy` vs
// `ostree admin deploy`, same commits, same run. Each sysroot is a fresh
// journaled ext4 (a loop image, as a machine's root filesystem is; stock
// deploy freezes and thaws it), with OTS_BENCH_DEPLOY_FS=tmpfs a tmpfs, with
// OTS_BENCH_DEPLOY_FS=dir a directory on the filesystem of OTS_BENCH_TMP.
// Not this VM's root filesystem: it is ext4 without a journal, where creating
// a file soon after many were deleted scans every recently freed inode
// (ext4's recently_deleted(), ~0.5 ms per new file here), whichever tool runs.
// Both tools end a deploy by pruning the system repo; the second pair of rows
// is with --no-prune (deploy work alone).
// Run: npm run build && npx tsx bench/deploy.ts [runs]
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OTS, ROOTFS, median, prepare, printTable, sh, timed, TMP } from './lib.js';

const runs = Number(process.argv[2] ?? 3);
const FS = process.env.OTS_BENCH_DEPLOY_FS ?? 'ext4';
prepare();
const work = mkdtempSync(`${TMP}/ots-bench-deploy-`);
const trees: string[] = [];
for (const v of ['v1', 'v2']) {
  const tree = join(work, v);
  console.log(`preparing ${tree}`);
  cpSync(join(ROOTFS, v), tree, { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(tree, 'usr/lib/modules/6.1.0'), { recursive: true });
  writeFileSync(join(tree, 'usr/lib/modules/6.1.0/vmlinuz'), `kernel ${v}`);
  writeFileSync(join(tree, 'usr/lib/modules/6.1.0/initramfs.img'), `initramfs ${v}`);
  sh('mv', [join(tree, 'etc'), join(tree, 'usr/etc')]);
  trees.push(tree);
}
type Phases = { first: number[]; upgrade: number[] };
const res: Record<string, Phases> = {};
for (const k of ['ots', 'ostree', 'ots --no-prune', 'ostree --no-prune']) res[k] = { first: [], upgrade: [] };
try {
  for (let i = 0; i < runs; i++) {
    for (const variant of ['ots', 'ostree', 'ots --no-prune', 'ostree --no-prune'] as const) {
      const tool = variant.startsWith('ots') ? 'ots' : 'ostree';
      const extra = variant.endsWith('--no-prune') ? ['--no-prune'] : [];
      const S = join(work, `sys-${tool}`);
      mkdirSync(S, { recursive: true });
      if (FS === 'tmpfs') sh('mount', ['-t', 'tmpfs', '-o', 'size=2g', 'tmpfs', S]);
      else if (FS === 'dir') { /* a plain directory on TMP's filesystem, removed after use */ }
      else {
        // A fresh journaled ext4 (what a machine boots from) for every sysroot.
        sh('truncate', ['-s', '2G', `${S}.img`]);
        sh('mkfs.ext4', ['-q', '-F', `${S}.img`]);
        sh('mount', ['-o', 'loop', `${S}.img`, S]);
      }
      try {
        sh('ostree', ['admin', 'init-fs', S]);
        sh('ostree', ['admin', 'os-init', `--sysroot=${S}`, 'debian']);
        const commits = trees.map((tree) => sh('ostree', ['commit', `--repo=${S}/ostree/repo`, '-b', 'debian/stable', '--timestamp=@1700000000', tree]).trim());
        const cmd = (c: string): [string, string[]] => (tool === 'ots'
          ? [OTS, ['admin', 'deploy', ...extra, `--sysroot=${S}`, '--os=debian', '--karg=root=LABEL=root', c]]
          : ['env', ['OSTREE_SYSROOT_DEBUG=mutable-deployments', 'ostree', 'admin', 'deploy', ...extra, `--sysroot=${S}`, '--os=debian', '--karg=root=LABEL=root', c]]);
        res[variant]!.first.push(timed(...cmd(commits[0] as string)).wallS);
        res[variant]!.upgrade.push(timed(...cmd(commits[1] as string)).wallS);
        sh('ostree', ['admin', 'status', `--sysroot=${S}`]);
      } finally {
        if (FS === 'dir') rmSync(S, { recursive: true, force: true });
        else sh('umount', [S]);
        rmSync(`${S}.img`, { force: true });
      }
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const row = (phase: 'first' | 'upgrade', suffix: '' | ' --no-prune') => {
  const ours = median(res[`ots${suffix}`]![phase]);
  const theirs = median(res[`ostree${suffix}`]![phase]);
  return {
    phase: `${phase === 'first' ? 'first deployment' : 'upgrade (+ /etc merge)'}${suffix}`,
    'ots s': ours.toFixed(3), 'ostree s': theirs.toFixed(3), ratio: (ours / theirs).toFixed(2),
  };
};
printTable([row('first', ''), row('upgrade', ''), row('first', ' --no-prune'), row('upgrade', ' --no-prune')]);
