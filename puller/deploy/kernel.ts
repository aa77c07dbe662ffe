// Find a deployment's kernel and initramfs and compute its bootcsum
// (deployments.md §2): /usr/lib/modules/KVER/{vmlinuz,initramfs.img}, or the
// legacy /usr/lib/ostree-boot or /boot with vmlinuz-NAME-BOOTCSUM.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError } from '../../shared/errors.js';

export interface KernelLayout {
  kver: string;
  vmlinuz: string;
  initramfs: string | null;
  bootcsum: string;
  /** Names to install under /boot/ostree/OS-BOOTCSUM/. */
  vmlinuzName: string;
  initramfsName: string | null;
}

async function isFile(p: string): Promise<boolean> {
  try { return (await lstat(p)).isFile(); } catch { return false; }
}

async function hashFiles(paths: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const p of paths) for await (const c of createReadStream(p)) h.update(c as Buffer);
  return h.digest('hex');
}

async function modulesLayout(root: string): Promise<KernelLayout | null> {
  const dir = join(root, 'usr/lib/modules');
  let kvers: string[];
  try { kvers = (await readdir(dir)).sort(); } catch { return null; }
  for (const kver of kvers) {
    const vmlinuz = join(dir, kver, 'vmlinuz');
    if (!(await isFile(vmlinuz))) continue;
    let initramfs: string | null = join(dir, kver, 'initramfs.img');
    if (!(await isFile(initramfs))) {
      initramfs = join(dir, kver, 'initramfs');
      if (!(await isFile(initramfs))) initramfs = null;
    }
    const bootcsum = await hashFiles(initramfs ? [vmlinuz, initramfs] : [vmlinuz]);
    return { kver, vmlinuz, initramfs, bootcsum, vmlinuzName: `vmlinuz-${kver}`, initramfsName: initramfs ? `initramfs-${kver}.img` : null };
  }
  return null;
}

async function legacyLayout(root: string): Promise<KernelLayout | null> {
  for (const rel of ['usr/lib/ostree-boot', 'boot']) {
    let names: string[];
    try { names = await readdir(join(root, rel)); } catch { continue; }
    const k = names.find((n) => /^vmlinuz-.+-[0-9a-f]{64}$/.test(n));
    if (!k) continue;
    const bootcsum = k.slice(-64);
    const name = k.slice('vmlinuz-'.length, -65);
    const i = names.find((n) => n === `initramfs-${name}-${bootcsum}`);
    return {
      kver: name, vmlinuz: join(root, rel, k), initramfs: i ? join(root, rel, i) : null, bootcsum,
      vmlinuzName: `vmlinuz-${name}`, initramfsName: i ? `initramfs-${name}.img` : null,
    };
  }
  return null;
}

/** The kernel of the tree at `root`. Throws ERR_OBJECT_NOT_FOUND when there is none. */
export async function findKernel(root: string): Promise<KernelLayout> {
  const modules = await modulesLayout(root);
  const legacy = await legacyLayout(root);
  if (modules && !(modules.initramfs === null && legacy?.initramfs)) return modules;
  if (legacy) return legacy;
  throw new OtError('ERR_OBJECT_NOT_FOUND', 'Failed to find kernel in /usr/lib/modules, /usr/lib/ostree-boot or /boot', {
    hint: 'a bootable tree has /usr/lib/modules/KVER/vmlinuz (and initramfs.img)',
  });
}
