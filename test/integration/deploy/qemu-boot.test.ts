// The deployments ots writes really boot. A tiny OS (static busybox, an init
// script) with Debian's cloud kernel and an initramfs that follows the
// ostree= karg (as ostree-prepare-root does) is served by ots-server, pulled
// and deployed by ots into a sysroot, which becomes an ext4 disk image. qemu
// (software emulation) then boots exactly what the BLS entry names — linux,
// initrd, options — from an NVMe disk (driver and ext4 built into the kernel).
// Upgrade, then rollback: each boot must land in the expected deployment.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cpioDir, cpioFile, cpioNewc, cpioSymlink } from '../../helpers/cpio.js';
import { ots, run, runOk } from '../../helpers/run.js';
import { startOtsServer } from '../../helpers/servers.js';
import { makeTmpDir } from '../../helpers/tmp.js';

const REF = 'tinyos/x86_64/stable';
const BUSYBOX = '/usr/bin/busybox';

// Stage 1, in the initramfs: mount the disk named by root=, resolve ostree=
// inside it, make the deployment the new root with the stateroot's /var and
// the physical root at /sysroot, hand over to the deployment's init.
const INIT_RAMFS = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /dev /sysroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
set -- $(/bin/busybox cat /proc/cmdline)
for a; do case "$a" in root=*) root=\${a#root=};; ostree=*) ostree=\${a#ostree=};; esac; done
i=0; while [ ! -b "$root" ] && [ $i -lt 100 ]; do /bin/busybox sleep 0.1; i=$((i+1)); done
/bin/busybox mount -t ext4 "$root" /sysroot || { echo "OTS-INITRAMFS: cannot mount $root"; /bin/busybox poweroff -f; }
deploy=$(/bin/busybox realpath "/sysroot$ostree") || { echo "OTS-INITRAMFS: $ostree does not resolve"; /bin/busybox poweroff -f; }
echo "OTS-INITRAMFS: ostree=$ostree -> \${deploy#/sysroot}"
/bin/busybox mount --bind "$deploy" "$deploy"
/bin/busybox mount --bind "\${deploy%/deploy/*}/var" "$deploy/var"
/bin/busybox mount --bind /sysroot "$deploy/sysroot"
/bin/busybox umount /proc
/bin/busybox mount --move /dev "$deploy/dev"
exec /bin/busybox switch_root "$deploy" /sbin/init
`;

// Stage 2, the deployment's own init: report what booted, prove /etc and
// /var work, power off.
const INIT_OS = `#!/usr/bin/busybox sh
export PATH=/usr/bin
busybox mount -t proc proc /proc
. /usr/lib/os-release
boots=$(( $(busybox cat /var/boots 2>/dev/null || echo 0) + 1 ))
echo $boots > /var/boots
echo "OTS-BOOTED version=$VERSION_ID motd=$(busybox cat /etc/motd) boots=$boots"
busybox sync
busybox poweroff -f
`;

function initramfs(): Buffer {
  return cpioNewc([
    cpioDir('bin'), cpioFile('bin/busybox', readFileSync(BUSYBOX), 0o755), cpioSymlink('bin/sh', 'busybox'),
    cpioFile('init', INIT_RAMFS, 0o755), cpioDir('dev'), cpioDir('proc'), cpioDir('sysroot'),
  ]);
}

function makeTinyOs(root: string, version: number, kernel: string, initrd: Buffer): void {
  const kver = readdirSync(join(kernel, '..')).find((n) => n.startsWith('vmlinuz-'))!.slice('vmlinuz-'.length);
  for (const d of ['usr/bin', 'usr/sbin', `usr/lib/modules/${kver}`, 'usr/etc', 'dev', 'proc', 'sys', 'run', 'tmp', 'var', 'sysroot', 'boot']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  copyFileSync(kernel, join(root, `usr/lib/modules/${kver}/vmlinuz`));
  writeFileSync(join(root, `usr/lib/modules/${kver}/initramfs.img`), initrd);
  copyFileSync(BUSYBOX, join(root, 'usr/bin/busybox'));
  chmodSync(join(root, 'usr/bin/busybox'), 0o755);
  writeFileSync(join(root, 'usr/sbin/init'), INIT_OS);
  chmodSync(join(root, 'usr/sbin/init'), 0o755);
  writeFileSync(join(root, 'usr/lib/os-release'), `NAME=TinyOS\nID=tinyos\nVERSION_ID=${version}\n`);
  writeFileSync(join(root, 'usr/etc/motd'), `v${version}\n`);
  symlinkSync('usr/bin', join(root, 'bin'));
  symlinkSync('usr/sbin', join(root, 'sbin'));
}

/** The default BLS entry (highest ostree-N) as a bootloader reads it. */
function defaultEntry(sysroot: string): { linux: string; initrd: string; options: string } {
  const dir = join(sysroot, 'boot/loader/entries');
  const name = readdirSync(dir).sort((a, b) => Number(b.split('-')[1]) - Number(a.split('-')[1]))[0] as string;
  const fields = new Map(readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
  return { linux: fields.get('linux') as string, initrd: fields.get('initrd') as string, options: fields.get('options') as string };
}

/** Boot the sysroot's default entry under qemu (TCG); the serial console output. */
async function boot(sysroot: string, t: string, n: number): Promise<string> {
  const disk = join(t, `disk${n}.img`);
  await runOk('mke2fs', ['-q', '-t', 'ext4', '-L', 'root', '-d', sysroot, disk, '256M']);
  const e = defaultEntry(sysroot);
  const r = await run('qemu-system-x86_64', [
    '-machine', 'pc', '-accel', 'tcg', '-m', '256', '-smp', '1', '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
    '-kernel', join(sysroot, 'boot', e.linux), '-initrd', join(sysroot, 'boot', e.initrd), '-append', e.options,
    '-drive', `file=${disk},if=none,id=d0,format=raw`, '-device', 'nvme,serial=ots,drive=d0',
  ], { timeoutMs: 240_000 });
  if (process.env.OTS_SHOW_BOOT) console.log(r.stdout + r.stderr); // the whole serial console, for debugging
  return r.stdout + r.stderr;
}

describe('booting a deployment', () => {
  it('qemu boots the default BLS entry into the deployment ostree= names, after upgrade and after rollback', async () => {
    const kernel = execFileSync(fileURLToPath(new URL('../../../scripts/test-kernel.sh', import.meta.url)), { encoding: 'utf8' }).trim();
    const t = makeTmpDir();
    const initrd = initramfs();
    const repo = join(t, 'vendor');
    await ots(`--repo=${repo}`, 'init', '--mode=archive');
    const commits: string[] = [];
    for (const v of [1, 2]) {
      makeTinyOs(join(t, `tree${v}`), v, kernel, initrd);
      commits.push((await ots(`--repo=${repo}`, 'commit', '-b', REF, `--timestamp=@${1700000000 + v}`, join(t, `tree${v}`))).trim());
    }
    await ots(`--repo=${repo}`, 'summary', '-u');
    const srv = await startOtsServer(repo);
    try {
      const S = join(t, 'sysroot');
      const kargs = ['--karg=root=/dev/nvme0n1', '--karg=rw', '--karg=console=ttyS0', '--karg=panic=-1'];
      await ots('admin', 'init-fs', S);
      await ots('admin', 'os-init', `--sysroot=${S}`, 'tinyos');
      await ots(`--repo=${S}/ostree/repo`, 'remote', 'add', '--no-gpg-verify', 'tinyos', srv.url);
      await ots(`--repo=${S}/ostree/repo`, 'pull', 'tinyos', `${REF}@${commits[0] as string}`);
      await ots('admin', 'deploy', `--sysroot=${S}`, '--os=tinyos', ...kargs, `tinyos:${REF}`);
      // A local edit of /etc, which the upgrade must carry over.
      const first = readdirSync(join(S, 'ostree/deploy/tinyos/deploy')).find((n) => !n.endsWith('.origin')) as string;
      writeFileSync(join(S, 'ostree/deploy/tinyos/deploy', first, 'etc/motd'), 'local\n');
      let out = await boot(S, t, 1);
      expect(out).toMatch(/OTS-INITRAMFS: ostree=\/ostree\/boot\.\d\/tinyos\/[0-9a-f]{64}\/0 -> \/ostree\/deploy\/tinyos\/deploy\/[0-9a-f]{64}\.0/);
      expect(out).toContain('OTS-BOOTED version=1 motd=local boots=1');

      await ots('admin', 'upgrade', `--sysroot=${S}`);
      out = await boot(S, t, 2);
      expect(out).toContain('OTS-BOOTED version=2 motd=local boots=1');

      await ots('admin', 'rollback', `--sysroot=${S}`);
      out = await boot(S, t, 3);
      expect(out).toContain('OTS-BOOTED version=1 motd=local boots=1');
    } finally {
      await srv.stop();
    }
  }, 600_000);
});
