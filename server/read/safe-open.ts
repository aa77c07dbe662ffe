// Open a file of the served repository without ever leaving it: every
// directory on the way is checked with realpath (cached briefly), and the
// file itself is opened with O_NOFOLLOW, so a symlink pointing outside the
// repository is never served.
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
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

  private dirInsideSync(dir: string, now: number): boolean {
    const hit = this.dirs.get(dir);
    if (hit && now - hit.at < DIR_CACHE_MS) return hit.real !== null;
    let real: string | null = null;
    try {
      this.rootReal ??= realpathSync(this.root);
      const r = realpathSync(dir);
      real = r === this.rootReal || r.startsWith(this.rootReal + sep) ? r : null;
    } catch {
      real = null;
    }
    if (this.dirs.size > 4096) this.dirs.clear();
    this.dirs.set(dir, { real, at: now });
    return real !== null;
  }

  /**
   * Read a small regular file whole, synchronously: on page-cached files a
   * blocking open/fstat/read/close is a few microseconds, far cheaper than four
   * thread-pool round trips (bench/serve.ts). Returns null when absent, not a
   * regular file, outside the root, or larger than `maxSize` (then use openFile).
   */
  readSmallSync(rel: string, maxSize: number): { body: Buffer; size: number; mtimeMs: number } | null | 'large' {
    const abs = join(this.root, rel);
    if (!this.dirInsideSync(dirname(abs), Date.now())) return null;
    let fd: number;
    try {
      fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return null;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return null;
      if (st.size > maxSize) return 'large';
      const body = Buffer.allocUnsafe(st.size);
      let off = 0;
      while (off < st.size) {
        const n = readSync(fd, body, off, st.size - off, off);
        if (n === 0) break;
        off += n;
      }
      return { body: off === st.size ? body : body.subarray(0, off), size: off, mtimeMs: st.mtimeMs };
    } finally {
      closeSync(fd);
    }
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
