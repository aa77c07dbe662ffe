// A small bootable OS tree: kernel + initramfs in /usr/lib/modules/KVER,
// defaults in /usr/etc, os-release, a binary, empty /var and /boot.
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function makeOsTree(root: string, version: number, opts: { kernel?: string } = {}): void {
  const kver = '6.1.0';
  const f = (rel: string, content: string, mode = 0o644) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
    chmodSync(join(root, rel), mode);
  };
  f(`usr/lib/modules/${kver}/vmlinuz`, opts.kernel ?? 'KERNEL');
  f(`usr/lib/modules/${kver}/initramfs.img`, 'INITRD');
  f('usr/lib/os-release', `NAME=TestOS\nID=testos\nPRETTY_NAME="Test OS"\nVERSION_ID=${version}\n`);
  f('usr/etc/motd', `welcome to version ${version}\n`);
  f('usr/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  f('usr/etc/hosts', '127.0.0.1 localhost\n');
  f('usr/etc/secret.conf', `secret=${version}\n`, 0o600);
  f('usr/etc/ssh/sshd_config', 'PermitRootLogin no\n');
  if (version >= 2) f('usr/etc/new-in-2.conf', 'new\n');
  f('usr/bin/sh', '#!/bin/true\n', 0o755);
  f(`usr/share/doc/v${version}.txt`, `doc ${version}\n`);
  f('usr/bin/suid-helper', 'x', 0o4755);
  symlinkSync('sh', join(root, 'usr/bin/bash'));
  symlinkSync('usr/bin', join(root, 'bin'));
  mkdirSync(join(root, 'var'), { recursive: true });
  mkdirSync(join(root, 'boot'), { recursive: true });
}
