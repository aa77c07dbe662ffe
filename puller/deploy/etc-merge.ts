// /etc for a new deployment (deployments.md §6): a real copy of /usr/etc,
// then the three-way merge with the merge deployment — files the admin
// removed stay removed, files they changed (content, mode, owner, link
// target) replace the new defaults, files they added are copied in.
import { chmodSync, chownSync, constants, copyFileSync, lchownSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';

export interface EtcMergeStats { modified: number; removed: number; added: number }

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

function differs(a: string, sa: Stats, b: string, sb: Stats): boolean {
  if ((sa.mode & 0o170000) !== (sb.mode & 0o170000)) return true;
  if (sa.uid !== sb.uid || sa.gid !== sb.gid || (sa.mode & 0o7777) !== (sb.mode & 0o7777)) return true;
  if (sa.isSymbolicLink()) return readlinkSync(a) !== readlinkSync(b);
  if (sa.isFile()) return sa.size !== sb.size || !readFileSync(a).equals(readFileSync(b));
  return false;
}

/**
 * Apply the admin's changes (old /usr/etc → old /etc) onto `newEtc`.
 * Synchronous underneath, like copyEntry: /etc is a few hundred small files.
 */
export async function mergeEtc(oldUsrEtc: string, oldEtc: string, newEtc: string): Promise<EtcMergeStats> {
  const stats: EtcMergeStats = { modified: 0, removed: 0, added: 0 };
  mergeEtcSync(oldUsrEtc, oldEtc, newEtc, stats, '');
  return stats;
}

function readdirOrEmpty(p: string): string[] {
  try { return readdirSync(p); } catch { return []; }
}

/** Replace whatever is at `rel` in `newEtc` by a copy of the admin's version. */
function takeLocal(oldEtc: string, newEtc: string, rel: string): void {
  rmSync(join(newEtc, rel), { recursive: true, force: true });
  mkdirSync(dirname(join(newEtc, rel)), { recursive: true });
  copyEntrySync(join(oldEtc, rel), join(newEtc, rel));
}

/** `rel` is the path inside /etc being compared ('' for the top). */
function mergeEtcSync(oldUsrEtc: string, oldEtc: string, newEtc: string, stats: EtcMergeStats, rel: string): void {
  const defaults = new Set(readdirOrEmpty(join(oldUsrEtc, rel)));
  const local = new Set(readdirOrEmpty(join(oldEtc, rel)));
  for (const name of defaults) {
    const r = join(rel, name);
    const sd = lstatSync(join(oldUsrEtc, r));
    const sl = lstatSync(join(oldEtc, r), { throwIfNoEntry: false }) ?? null;
    if (sl === null) {
      rmSync(join(newEtc, r), { recursive: true, force: true });
      stats.removed++;
      continue;
    }
    if (sd.isDirectory() && sl.isDirectory()) {
      if (differs(join(oldUsrEtc, r), sd, join(oldEtc, r), sl)) {
        const target = join(newEtc, r);
        const st = lstatSync(target, { throwIfNoEntry: false });
        if (st?.isDirectory()) { chownSync(target, sl.uid, sl.gid); chmodSync(target, sl.mode & 0o7777); }
        stats.modified++;
      }
      mergeEtcSync(oldUsrEtc, oldEtc, newEtc, stats, r);
      continue;
    }
    if (differs(join(oldUsrEtc, r), sd, join(oldEtc, r), sl)) {
      takeLocal(oldEtc, newEtc, r);
      stats.modified++;
    }
  }
  for (const name of local) {
    if (defaults.has(name)) continue;
    takeLocal(oldEtc, newEtc, join(rel, name));
    stats.added++;
  }
}
