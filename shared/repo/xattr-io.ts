// Extended attributes on real files, through fs-xattr (a small node-gyp
// addon: get/set/list with raw Buffer values; see README "Dependencies").
// fs-xattr follows symlinks, so callers never use it on a symlink.
import * as xattr from 'fs-xattr';
import { isErrno } from '../errors.js';
import type { Xattr } from '../objects/index.js';

/** Name of the bare-user metadata xattr. */
export const OSTREEMETA_XATTR = 'user.ostreemeta';

/** All xattrs of a regular file or directory, sorted by name. ENOTSUP → []. */
export async function readXattrs(path: string, opts: { skip?: (name: string) => boolean } = {}): Promise<Xattr[]> {
  let names: string[];
  try {
    names = await xattr.listAttributes(path);
  } catch (err: unknown) {
    if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) return [];
    throw err;
  }
  const out: Xattr[] = [];
  for (const name of names.sort()) {
    if (opts.skip?.(name)) continue;
    out.push({ name, value: new Uint8Array(await xattr.getAttribute(path, name)) });
  }
  return out;
}

/** Read one xattr, or undefined when absent. */
export async function readXattr(path: string, name: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await xattr.getAttribute(path, name));
  } catch (err: unknown) {
    if (isErrno(err, 'ENODATA') || isErrno(err, 'ENOATTR')) return undefined;
    throw err;
  }
}

/** Set one xattr. */
export async function writeXattr(path: string, name: string, value: Uint8Array): Promise<void> {
  await xattr.setAttribute(path, name, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
}

/**
 * Synchronous readXattrs, for the commit hot path: a blocking syscall on the
 * main thread is cheaper than a thread-pool round trip for small work
 * (bench/commit.ts: the async version spent more CPU in futex wake-ups than in I/O).
 */
export function readXattrsSync(path: string): Xattr[] {
  let names: string[];
  try {
    names = xattr.listAttributesSync(path);
  } catch (err: unknown) {
    if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) return [];
    throw err;
  }
  return names.sort().map((name) => ({ name, value: new Uint8Array(xattr.getAttributeSync(path, name)) }));
}

/** Synchronous readXattr (see readXattrsSync). */
export function readXattrSync(path: string, name: string): Uint8Array | undefined {
  try {
    return new Uint8Array(xattr.getAttributeSync(path, name));
  } catch (err: unknown) {
    if (isErrno(err, 'ENODATA') || isErrno(err, 'ENOATTR')) return undefined;
    throw err;
  }
}

/** Synchronous writeXattr (see readXattrsSync). */
export function writeXattrSync(path: string, name: string, value: Uint8Array): void {
  xattr.setAttributeSync(path, name, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
}
