// Open a file of the served repository without ever leaving it: every
// directory on the way is checked with realpath (cached briefly), and the
// file itself is opened with O_NOFOLLOW, so a symlink pointing outside the
// repository is never served.
import { constants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';

const DIR_CACHE_MS = 2000;

export class SafeRoot {
  private readonly dirs = new Map<string, { real: string | null; at: number }>();
  private rootReal: string | undefined;

  constructor(readonly root: string) {}

  private async realRoot(): Promise<string> {
    this.rootReal ??= await realpath(this.root);
    return this.rootReal;
  }

  /** Whether `dir` (absolute, under root) resolves to a place inside the root. */
  private async dirInside(dir: string, now: number): Promise<boolean> {
    const hit = this.dirs.get(dir);
    if (hit && now - hit.at < DIR_CACHE_MS) return hit.real !== null;
    let real: string | null = null;
    try {
      const r = await realpath(dir);
      const root = await this.realRoot();
      real = r === root || r.startsWith(root + sep) ? r : null;
    } catch {
      real = null;
    }
    if (this.dirs.size > 4096) this.dirs.clear();
    this.dirs.set(dir, { real, at: now });
    return real !== null;
  }

  /**
   * Open `rel` (already validated by classifyPath) read-only. Returns null when
   * it does not exist, is not a regular file, or would leave the root.
   */
  async openFile(rel: string): Promise<{ fh: FileHandle; size: number; mtimeMs: number } | null> {
    const abs = join(this.root, rel);
    if (!(await this.dirInside(dirname(abs), Date.now()))) return null;
    let fh: FileHandle;
    try {
      fh = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return null;
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      return null;
    }
    return { fh, size: st.size, mtimeMs: st.mtimeMs };
  }
}
