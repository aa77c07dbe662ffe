// Make a new deployment list the booted-next one, atomically (deployments.md
// §7): BLS entries in /boot/loader.B, kernels in /boot/ostree/OS-BOOTCSUM,
// the bootlink farm /ostree/boot.B.S swapped in by symlink, a sync, then the
// single commit point: rename(/boot/loader.tmp → /boot/loader). A crash before
// that rename leaves the old list booting; after it, the new one.
import { copyFile, mkdir, readFile, readdir, rename, rm, symlink, utimes, lstat, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { faultPoint, fsyncDir, syncFilesystem, tmpName, writeFileAtomic } from '../../shared/repo/index.js';
import { formatBls, setKarg, type BlsEntry } from './bls.js';
import { findKernel, type KernelLayout } from './kernel.js';
import type { Deployment, Sysroot } from './sysroot.js';

export type DeployPhase = 'boot-files' | 'bootlinks' | 'swap' | 'cleanup';

/** os-release fields of a deployment (usr/lib/os-release, else etc/os-release). */
async function osRelease(dir: string): Promise<Record<string, string>> {
  for (const rel of ['usr/lib/os-release', 'etc/os-release', 'usr/etc/os-release']) {
    try {
      const out: Record<string, string> = {};
      for (const line of (await readFile(join(dir, rel), 'utf8')).split('\n')) {
        const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (m) out[m[1] as string] = (m[2] as string).replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
      }
      return out;
    } catch { /* next */ }
  }
  return {};
}

async function exists(p: string): Promise<boolean> {
  try { await lstat(p); return true; } catch { return false; }
}

/** Copy boot files into /boot/ostree/OS-BOOTCSUM/ unless already there (atomic per file). */
async function installKernel(sysroot: Sysroot, d: Deployment, k: KernelLayout): Promise<void> {
  const dir = join(sysroot.path, 'boot/ostree', `${d.osname}-${d.bootcsum}`);
  await mkdir(dir, { recursive: true });
  for (const [src, name] of [[k.vmlinuz, k.vmlinuzName], [k.initramfs, k.initramfsName]] as const) {
    if (src === null || name === null || (await exists(join(dir, name)))) continue;
    const tmp = join(dir, `.${tmpName()}`);
    await copyFile(src, tmp);
    await rename(tmp, join(dir, name));
  }
}

/** Write `list` as the deployment list. Returns the new bootversion. */
export async function writeDeployments(sysroot: Sysroot, list: Deployment[], onPhase: (p: DeployPhase) => void = () => undefined): Promise<number> {
  const oldB = await sysroot.bootversion();
  const b = 1 - oldB;
  const boot = join(sysroot.path, 'boot');
  onPhase('boot-files');
  const entries = join(boot, `loader.${b}`, 'entries');
  await rm(join(boot, `loader.${b}`), { recursive: true, force: true });
  await mkdir(entries, { recursive: true });
  const osnames = new Set(list.map((d) => d.osname));
  for (let i = 0; i < list.length; i++) {
    const d = list[i] as Deployment;
    const dir = sysroot.deploymentDir(d);
    const k = await findKernel(dir);
    await installKernel(sysroot, d, k);
    faultPoint(`deploy-kernel-${i}`);
    const rel = await osRelease(dir);
    const version = d.origin.get('origin', 'version') ?? (await commitVersion(sysroot, d.csum));
    let title = rel.PRETTY_NAME ?? rel.ID ?? d.osname;
    if (version && !title.includes(version)) title += ` ${version}`;
    title += ` (ostree:${osnames.size > 1 ? `${d.osname}:` : ''}${i})`;
    const ostreeArg = `/ostree/boot.${b}/${d.osname}/${d.bootcsum}/${d.bootserial}`;
    const entry: BlsEntry = [
      ['title', title],
      ['version', String(list.length - i)],
      ['options', setKarg(d.kargs, 'ostree', ostreeArg).join(' ')],
      ['linux', `/ostree/${d.osname}-${d.bootcsum}/${k.vmlinuzName}`],
    ];
    if (k.initramfsName) entry.push(['initrd', `/ostree/${d.osname}-${d.bootcsum}/${k.initramfsName}`]);
    await writeFileAtomic(join(entries, `ostree-${list.length - i}-${d.osname}.conf`), formatBls(entry));
  }
  faultPoint('deploy-after-entries');

  onPhase('bootlinks');
  const oldS = await sysroot.subbootversion(b);
  const s = 1 - oldS;
  const farm = join(sysroot.path, 'ostree', `boot.${b}.${s}`);
  await rm(farm, { recursive: true, force: true });
  for (const d of list) {
    const dir = join(farm, d.osname, d.bootcsum);
    await mkdir(dir, { recursive: true });
    await symlink(`../../../deploy/${d.osname}/deploy/${d.csum}.${d.deployserial}`, join(dir, String(d.bootserial)));
  }
  await swapSymlink(join(sysroot.path, 'ostree', `boot.${b}`), `boot.${b}.${s}`);
  faultPoint('deploy-after-bootlinks');

  onPhase('swap');
  if (!(await exists(join(boot, 'boot')))) await symlink('.', join(boot, 'boot'));
  await rm(join(boot, 'loader.tmp'), { force: true });
  await symlink(`loader.${b}`, join(boot, 'loader.tmp'));
  // Everything the new loader names (deployment dirs, boot files, entries) is
  // made durable before the swap; /boot gets its own sync when it is a separate filesystem.
  await syncFilesystem(sysroot.path);
  if ((await stat(boot)).dev !== (await stat(sysroot.path)).dev) await syncFilesystem(boot);
  faultPoint('deploy-before-swap');
  await rename(join(boot, 'loader.tmp'), join(boot, 'loader'));
  await fsyncDir(boot);
  faultPoint('deploy-after-swap');
  const now = new Date();
  await utimes(join(sysroot.path, 'ostree/deploy'), now, now).catch(() => undefined);
  return b;
}

async function swapSymlink(path: string, target: string): Promise<void> {
  const tmp = `${path}.${tmpName()}`;
  await symlink(target, tmp);
  await rename(tmp, path);
}

async function commitVersion(sysroot: Sysroot, csum: string): Promise<string | undefined> {
  const { Repo } = await import('../../shared/repo/index.js');
  const { vardictGet } = await import('../../shared/gvariant/index.js');
  try {
    const repo = await Repo.open(sysroot.repoPath);
    const v = vardictGet((await repo.loadCommit(csum as never)).metadata, 'version');
    return v?.type === 's' ? (v.value as string) : undefined;
  } catch {
    return undefined;
  }
}

/** Remove what the current list no longer references: the other bootversion, unused boot dirs and deployment dirs. */
export async function cleanupSysroot(sysroot: Sysroot): Promise<{ deployments: number; bootDirs: number }> {
  const b = await sysroot.bootversion();
  const list = await sysroot.loadDeployments();
  const s = await sysroot.subbootversion(b);
  const ostreeDir = join(sysroot.path, 'ostree');
  for (const n of await readdir(ostreeDir)) {
    const keep = n === `boot.${b}` || n === `boot.${b}.${s}`;
    const stale = (/^boot\.[01](\.[01])?$/.test(n) && !keep) || /^boot\.[01]\.tmp-/.test(n);
    if (stale) await rm(join(ostreeDir, n), { recursive: true, force: true });
  }
  await rm(join(sysroot.path, 'boot', `loader.${1 - b}`), { recursive: true, force: true });
  await rm(join(sysroot.path, 'boot', 'loader.tmp'), { force: true });
  let bootDirs = 0;
  const usedBoot = new Set(list.map((d) => `${d.osname}-${d.bootcsum}`));
  const bootOstree = join(sysroot.path, 'boot/ostree');
  for (const n of await readdir(bootOstree).catch(() => [] as string[])) {
    if (!usedBoot.has(n)) { await rm(join(bootOstree, n), { recursive: true, force: true }); bootDirs++; }
  }
  let deployments = 0;
  const used = new Set(list.map((d) => sysroot.deploymentDir(d)));
  const deployRoot = join(sysroot.path, 'ostree/deploy');
  for (const os of await readdir(deployRoot).catch(() => [] as string[])) {
    const dir = join(deployRoot, os, 'deploy');
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      const base = n.replace(/\.origin$/, '');
      if (used.has(join(dir, base))) continue;
      await rm(join(dir, n), { recursive: true, force: true });
      if (!n.endsWith('.origin')) deployments++;
    }
  }
  return { deployments, bootDirs };
}
