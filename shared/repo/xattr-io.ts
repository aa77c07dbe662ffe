// Extended attributes on real files, through fs-xattr (a small node-gyp
// addon: get/set/list with raw Buffer values; see README "Dependencies").
// fs-xattr follows symlinks, so callers never use it on a symlink: a symlink's
// own xattrs go through the native helper (l*xattr), as ostree reads and
// writes them.
import type * as FsXattr from 'fs-xattr';
import { OtError, isErrno } from '../errors.js';
import { lazyRequire } from '../lazy-require.js';
import { nativeSys } from '../native/sys.js';
import type { Xattr } from '../objects/index.js';

/** fs-xattr, loaded on first use (start-up time of commands that never touch xattrs). */
let fsXattr: typeof FsXattr | undefined;
const xattr = (): typeof FsXattr => (fsXattr ??= lazyRequire<typeof FsXattr>('fs-xattr'));

/** Name of the bare-user metadata xattr. */
export const OSTREEMETA_XATTR = 'user.ostreemeta';

/** All xattrs of a regular file or directory, sorted by name. ENOTSUP → []. */
export async function readXattrs(path: string, opts: { skip?: (name: string) => boolean } = {}): Promise<Xattr[]> {
  let names: string[];
  try {
    names = await xattr().listAttributes(path);
  } catch (err: unknown) {
    if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) return [];
    throw err;
  }
  const out: Xattr[] = [];
  for (const name of names.sort()) {
    if (opts.skip?.(name)) continue;
    out.push({ name, value: new Uint8Array(await xattr().getAttribute(path, name)) });
  }
  return out;
}

/** Read one xattr, or undefined when absent. */
export async function readXattr(path: string, name: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await xattr().getAttribute(path, name));
  } catch (err: unknown) {
    if (isErrno(err, 'ENODATA') || isErrno(err, 'ENOATTR')) return undefined;
    throw err;
  }
}

/** Set one xattr. */
export async function writeXattr(path: string, name: string, value: Uint8Array): Promise<void> {
  await xattr().setAttribute(path, name, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
}

/**
 * Synchronous readXattrs, for the commit hot path: a blocking syscall on the
 * main thread is cheaper than a thread-pool round trip for small work
 * (bench/commit.ts: the async version spent more CPU in futex wake-ups than in I/O).
 */
export function readXattrsSync(path: string): Xattr[] {
  let names: string[];
  try {
    names = xattr().listAttributesSync(path);
  } catch (err: unknown) {
    if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) return [];
    throw err;
  }
  return names.sort().map((name) => ({ name, value: new Uint8Array(xattr().getAttributeSync(path, name)) }));
}

/** Synchronous readXattr (see readXattrsSync). */
export function readXattrSync(path: string, name: string): Uint8Array | undefined {
  try {
    return new Uint8Array(xattr().getAttributeSync(path, name));
  } catch (err: unknown) {
    if (isErrno(err, 'ENODATA') || isErrno(err, 'ENOATTR')) return undefined;
    throw err;
  }
}

/** Synchronous writeXattr (see readXattrsSync). */
export function writeXattrSync(path: string, name: string, value: Uint8Array): void {
  xattr().setAttributeSync(path, name, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
}

/** A symlink's own xattrs, sorted by name; [] without the native helper (then they are not preserved). */
export function readSymlinkXattrsSync(path: string): Xattr[] {
  const native = nativeSys();
  if (!native) return [];
  return native.lxattrs(path).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((x) => ({ name: x.name, value: new Uint8Array(x.value) }));
}

/** Set xattrs on a symlink itself. Throws ERR_UNSUPPORTED without the native helper when there are any. */
export function writeSymlinkXattrsSync(path: string, xattrs: readonly Xattr[]): void {
  if (xattrs.length === 0) return;
  const native = nativeSys();
  if (!native) throw new OtError('ERR_UNSUPPORTED', `Cannot set xattrs on symlink ${path} without the native helper`, { path, hint: 'run npm ci with make and g++ installed' });
  for (const x of xattrs) native.lsetxattr(path, x.name, x.value);
}
