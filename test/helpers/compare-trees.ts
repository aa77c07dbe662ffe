// Compare two directory trees: entry types, permission bits, ownership,
// file contents, symlink targets and user.* xattrs.
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { getAttributeSync, listAttributesSync } from 'fs-xattr';

export interface CompareOptions {
  /** Compare uid/gid (off for user-mode checkouts). */
  ownership?: boolean;
  /** Compare user.* xattrs on files and directories. */
  xattrs?: boolean;
  /** Mask applied to permission bits before comparing (e.g. 0o777 when setuid is dropped). */
  modeMask?: number;
  /** Compare directory modes too. */
  dirModes?: boolean;
}

function userXattrs(p: string): string {
  return listAttributesSync(p).filter((n) => n.startsWith('user.')).sort()
    .map((n) => `${n}=${getAttributeSync(p, n).toString('hex')}`).join(',');
}

/** Differences between trees `a` and `b`, as human-readable lines (empty when equal). */
export function diffTrees(a: string, b: string, opts: CompareOptions = {}): string[] {
  const diffs: string[] = [];
  const mask = opts.modeMask ?? 0o7777;
  const walk = (rel: string) => {
    const pa = join(a, rel);
    const pb = join(b, rel);
    const sa = lstatSync(pa);
    let sb;
    try { sb = lstatSync(pb); } catch { diffs.push(`${rel}: missing in second tree`); return; }
    const kind = (s: typeof sa) => (s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'link' : s.isFile() ? 'file' : 'other');
    if (kind(sa) !== kind(sb)) { diffs.push(`${rel}: ${kind(sa)} vs ${kind(sb)}`); return; }
    if (opts.ownership && (sa.uid !== sb.uid || sa.gid !== sb.gid)) diffs.push(`${rel}: owner ${sa.uid}:${sa.gid} vs ${sb.uid}:${sb.gid}`);
    if (sa.isSymbolicLink()) {
      if (readlinkSync(pa) !== readlinkSync(pb)) diffs.push(`${rel}: link target differs`);
      return;
    }
    if ((sa.isFile() || opts.dirModes) && (sa.mode & mask) !== (sb.mode & mask)) {
      diffs.push(`${rel}: mode ${(sa.mode & 0o7777).toString(8)} vs ${(sb.mode & 0o7777).toString(8)}`);
    }
    if (opts.xattrs && userXattrs(pa) !== userXattrs(pb)) diffs.push(`${rel}: xattrs ${userXattrs(pa)} vs ${userXattrs(pb)}`);
    if (sa.isFile()) {
      if (!readFileSync(pa).equals(readFileSync(pb))) diffs.push(`${rel}: content differs`);
      return;
    }
    const na = readdirSync(pa).sort();
    const nb = readdirSync(pb).sort();
    for (const n of nb) if (!na.includes(n)) diffs.push(`${join(rel, n)}: only in second tree`);
    for (const n of na) walk(join(rel, n));
  };
  walk('.');
  return diffs;
}
