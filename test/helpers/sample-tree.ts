// A tree exercising every kind of entry OSTree stores: regular, empty and
// executable files, setuid/setgid, symlinks (relative, absolute, dangling),
// hardlinks, empty and deep directories, 255-byte and non-ASCII names, xattrs.
import { chmodSync, linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setAttributeSync } from 'fs-xattr';

/** Whether user.* xattrs work on the filesystem holding `dir`. */
export function xattrsSupported(dir: string): boolean {
  const probe = join(dir, '.xattr-probe');
  writeFileSync(probe, '');
  try {
    setAttributeSync(probe, 'user.probe', 'x');
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}

/** Build the sample tree at `root` (created). Returns whether xattrs were set. */
export function makeSampleTree(root: string, opts: { xattrs?: boolean; variant?: number } = {}): boolean {
  const v = opts.variant ?? 0;
  mkdirSync(root, { recursive: true });
  const f = (rel: string, content: string | Buffer, mode = 0o644) => {
    const p = join(root, rel);
    writeFileSync(p, content);
    chmodSync(p, mode);
  };
  for (const d of ['etc', 'usr/bin', 'usr/lib', 'var/empty', 'srv/ünïcødé', 'opt']) mkdirSync(join(root, d), { recursive: true });
  f('etc/a.conf', `conf=${v + 1}\n`);
  f('etc/empty', '');
  f('usr/bin/hello', '#!/bin/sh\necho hello\n', 0o755);
  f('usr/bin/suid', 'setuid binary', 0o4755);
  f('usr/bin/sgid', 'setgid binary', 0o2755);
  f('usr/lib/big.bin', Buffer.alloc(300_000 + v, 7));
  f('usr/lib/random.bin', Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 2654435761 + v) >>> 24)));
  chmodSync(join(root, 'opt'), 0o700);
  symlinkSync('hello', join(root, 'usr/bin/hi'));
  symlinkSync('/etc/a.conf', join(root, 'usr/bin/abs-link'));
  symlinkSync('../does/not/exist', join(root, 'usr/bin/dangling'));
  linkSync(join(root, 'usr/bin/hello'), join(root, 'usr/bin/hello-hardlink'));
  f('srv/ünïcødé/日本語.txt', 'non-ascii\n');
  f(`srv/${'L'.repeat(255)}`, 'long name\n');
  let deep = join(root, 'deep');
  for (let i = 0; i < 40; i++) deep = join(deep, `d${i}`);
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, 'leaf'), 'deep leaf\n');
  const useXattrs = (opts.xattrs ?? true) && xattrsSupported(root);
  if (useXattrs) {
    setAttributeSync(join(root, 'etc/a.conf'), 'user.b', '2');
    setAttributeSync(join(root, 'etc/a.conf'), 'user.a', 'one');
    setAttributeSync(join(root, 'etc'), 'user.dir', Buffer.from([0, 1, 2, 255]));
  }
  return useXattrs;
}
