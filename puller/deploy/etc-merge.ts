// /etc for a new deployment (deployments.md §6): a real copy of /usr/etc,
// then the three-way merge with the merge deployment — files the admin
// removed stay removed, files they changed (content, mode, owner, link
// target) replace the new defaults, files they added are copied in.
import { chmod, chown, lstat, mkdir, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { chmodSync, chownSync, constants, copyFileSync, lchownSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { isErrno } from '../../shared/errors.js';

export interface EtcMergeStats { modified: number; removed: number; added: number }

async function lstatOrNull(p: string): Promise<Stats | null> {
  try { return await lstat(p); } catch (err: unknown) { if (isErrno(err, 'ENOENT')) return null; throw err; }
}

/**
 * Copy `src` (file, symlink or directory tree) to the absent path `dst`,
 * keeping mode and owner. Never follows symlinks. Synchronous: /etc is many
 * small files, where thread-pool round trips dominated (bench/deploy.ts).
 */
export async function copyEntry(src: string, dst: string): Promise<void> {
  copyEntrySync(src, dst);
}

function copyEntrySync(src: string, dst: string): void {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), dst);
    lchownSync(dst, st.uid, st.gid);
    return;
  }
  if (st.isDirectory()) {
    mkdirSync(dst, { mode: 0o700 });
    for (const name of readdirSync(src)) copyEntrySync(join(src, name), join(dst, name));
  } else if (st.isFile()) {
    copyFileSync(src, dst, constants.COPYFILE_EXCL);
  } else {
    return; // devices, fifos, sockets are not carried over
  }
  chownSync(dst, st.uid, st.gid);
  chmodSync(dst, st.mode & 0o7777);
}

async function differs(a: string, sa: Stats, b: string, sb: Stats): Promise<boolean> {
  if ((sa.mode & 0o170000) !== (sb.mode & 0o170000)) return true;
  if (sa.uid !== sb.uid || sa.gid !== sb.gid || (sa.mode & 0o7777) !== (sb.mode & 0o7777)) return true;
  if (sa.isSymbolicLink()) return (await readlink(a)) !== (await readlink(b));
  if (sa.isFile()) return sa.size !== sb.size || !(await readFile(a)).equals(await readFile(b));
  return false;
}

/**
 * Apply the admin's changes (old /usr/etc → old /etc) onto `newEtc`.
 * `rel` is the path inside /etc being compared ('' for the top).
 */
export async function mergeEtc(oldUsrEtc: string, oldEtc: string, newEtc: string, stats: EtcMergeStats = { modified: 0, removed: 0, added: 0 }, rel = ''): Promise<EtcMergeStats> {
  const defaults = new Set(await readdir(join(oldUsrEtc, rel)).catch(() => [] as string[]));
  const local = new Set(await readdir(join(oldEtc, rel)).catch(() => [] as string[]));
  for (const name of defaults) {
    const r = join(rel, name);
    const sd = await lstat(join(oldUsrEtc, r));
    const sl = await lstatOrNull(join(oldEtc, r));
    if (sl === null) {
      await rm(join(newEtc, r), { recursive: true, force: true });
      stats.removed++;
      continue;
    }
    if (sd.isDirectory() && sl.isDirectory()) {
      if (await differs(join(oldUsrEtc, r), sd, join(oldEtc, r), sl)) {
        const target = join(newEtc, r);
        const st = await lstatOrNull(target);
        if (st?.isDirectory()) { await chown(target, sl.uid, sl.gid); await chmod(target, sl.mode & 0o7777); }
        stats.modified++;
      }
      await mergeEtc(oldUsrEtc, oldEtc, newEtc, stats, r);
      continue;
    }
    if (await differs(join(oldUsrEtc, r), sd, join(oldEtc, r), sl)) {
      await rm(join(newEtc, r), { recursive: true, force: true });
      await mkdir(dirname(join(newEtc, r)), { recursive: true });
      await copyEntry(join(oldEtc, r), join(newEtc, r));
      stats.modified++;
    }
  }
  for (const name of local) {
    if (defaults.has(name)) continue;
    const r = join(rel, name);
    await rm(join(newEtc, r), { recursive: true, force: true });
    await mkdir(dirname(join(newEtc, r)), { recursive: true });
    await copyEntry(join(oldEtc, r), join(newEtc, r));
    stats.added++;
  }
  return stats;
}
