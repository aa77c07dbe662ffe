// The optional native helpers in native/ots_sys.c (built by `npm ci` through
// node-gyp): syncfs(2) without spawning `sync -f`, OFD locks on a repo's
// .lock, and checkout plans executed on a native thread. Every caller has a
// portable fallback (no lock, for locks), taken when the addon is missing or
// OTS_NO_NATIVE=1 (the tests run both).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import { lazyRequire } from '../lazy-require.js';

/** An error from a native call: errno is negative, as in Node's own errors. */
export interface NativeError extends Error { errno: number; syscall: string; path?: string; op?: string }

export interface PlanResult {
  /** Operations executed. */
  ops: number;
  /** The first failure; nothing after it ran. */
  error?: NativeError;
  /** [destination path, object path relative to objects/] of links refused with EXDEV or EMLINK: copy these. */
  copies: [string, string][];
}

/** What checkoutTree did: counts, refused links to copy, and the first failure. */
export interface TreeCheckoutResult {
  dirs: number;
  files: number;
  /** [destination path, object path relative to objects/] of links refused with EXDEV or EMLINK: copy these. */
  copies: [string, string][];
  /** A system error (errno, syscall, path) or a format error (code, checksum, objectType, path). */
  error?: NativeError | NativeFormatError;
}

/** A malformed, corrupt or missing metadata object met by checkoutTree. */
export interface NativeFormatError extends Error {
  code: 'ERR_BAD_FORMAT' | 'ERR_CHECKSUM_MISMATCH' | 'ERR_OBJECT_NOT_FOUND' | 'ERR_UNSAFE_PATH';
  checksum?: string;
  objectType?: 'dirtree' | 'dirmeta';
  path?: string;
}

export interface TreeCheckoutOptions {
  /** Worker threads (1-8). */
  threads: number;
  /** Skip xattrs and ownership (checkout -U). */
  userMode: boolean;
  /** New directories already get euid/egid (no setgid parent): chown only where the dirmeta differs. */
  ownerIsOurs: boolean;
  euid: number;
  egid: number;
}

export interface PruneScanResult {
  total: number;
  unreachable: string[];
  /** A system error, or a missing (ERR_OBJECT_NOT_FOUND), corrupt or malformed dirtree of roots[root]. */
  error?: NativeError | (NativeFormatError & { root?: number });
}

export interface NativeExecuteArgs {
  stagingDir: string;
  sourceDirs: string[];
  /** '.file' */
  contentExt: string;
  payload: Uint8Array;
  ops: Uint8Array;
  /** (uid, gid, mode) per mode index. */
  modes: Uint32Array;
  /** Canonical a(ayay) bytes per xattr index. */
  xattrs: Uint8Array[];
  /** The part's object list, 33 bytes each (type code, checksum). */
  objects: Uint8Array;
  /** One byte per object: 1 when it is already stored. */
  skip: Uint8Array;
  maxObjectSize: number;
}

export interface NativeExecuteResult {
  written: number;
  staged: number[];
  error?: NativeError | (Error & { code: 'ERR_BAD_FORMAT' | 'ERR_TOO_LARGE' | 'ERR_CHECKSUM_MISMATCH' | 'ERR_OBJECT_NOT_FOUND'; offset: number; checksum?: string; actual?: string });
}

export interface NativeFetchArgs {
  /** An IP address literal (resolved by the caller). */
  host: string;
  port: number;
  /** The Host header. */
  hostHeader: string;
  /** The remote's path, ending in '/'. */
  basePath: string;
  /** Extra request header lines, each "Name: value\r\n". */
  extraHeaders: string;
  checksums: string[];
  stagingDir: string;
  /** Stage the .filez as received (archive repos) instead of a bare-user file. */
  archive: boolean;
  maxBody: number;
  timeoutMs: number;
}

export interface NativeFetchResult {
  kind: 'staged' | 'body' | 'file' | 'status' | 'none';
  /** Body bytes received (staged, body, file). */
  bytes: number;
  body?: Uint8Array;
  file?: string;
  status?: number;
}

export interface MissingScanResult {
  dirtree: string[];
  dirmeta: string[];
  file: string[];
  error?: NativeError | NativeFormatError;
}

declare const planBrand: unique symbol;
export type PlanHandle = { readonly [planBrand]: true };

export interface NativeSys {
  syncfs(path: string): Promise<void>;
  /**
   * Create `path` (O_EXCL, O_NOFOLLOW) at 0600 with `chunks`, set `xattrs`,
   * chown to uid/gid when uid >= 0, chmod to `mode` last; one thread-pool job.
   * On failure the file is removed.
   */
  writeNew(path: string, chunks: readonly Uint8Array[], opts: NativeWriteOptions): Promise<void>;
  /**
   * A content object in archive form, verified and created in one thread-pool
   * job: inflate `compressed` (raw deflate) to exactly `size` bytes, SHA-256 of
   * `header` then the payload must equal `expected` (hex); then create `path`
   * as writeNew does, with `chunks`, or with the payload when chunks is absent.
   * Rejects with code ERR_CHECKSUM_MISMATCH (`actual`), ERR_SIZE_MISMATCH
   * (`produced`) or ERR_BAD_FORMAT, leaving no file.
   */
  inflateVerify(path: string, header: Uint8Array, compressed: Uint8Array, size: number, expected: string, opts: NativeWriteOptions & { chunks?: readonly Uint8Array[] }): Promise<void>;
  /**
   * A content object verified and created in one thread-pool job: SHA-256 of
   * `header` then `payload` must equal `expected` (hex); then `path` is
   * created as writeNew does, with `chunks`, or with the payload when chunks is
   * absent. Rejects with code ERR_CHECKSUM_MISMATCH (`actual`), leaving no file.
   */
  writeVerified(path: string, header: Uint8Array, payload: Uint8Array, expected: string, opts: NativeWriteOptions & { chunks?: readonly Uint8Array[] }): Promise<void>;
  /**
   * The bytes of the regular file `path` in one thread-pool job (open with
   * O_NOFOLLOW|O_NONBLOCK, fstat, read). A symlink, FIFO or other non-regular
   * file is refused (EINVAL / ELOOP), as is one larger than `maxSize` (EFBIG).
   */
  readRegular(path: string, maxSize: number): Promise<Uint8Array>;
  /**
   * Rename fromDir/rel to toDir/rel for each rel (xx/rest.ext, sorted) in one
   * thread-pool job, creating toDir/xx when missing; with `noReplace`
   * (renameat2 RENAME_NOREPLACE) an existing target is kept and the source
   * unlinked. Emptied fromDir/xx directories are removed unless `keepDirs`.
   * Stops at the first failure (`error`; errno EINVAL where RENAME_NOREPLACE
   * is unsupported).
   */
  renameObjects(fromDir: string, toDir: string, rels: string[], noReplace: boolean, keepDirs: boolean): Promise<{ renamed: number; kept: number; error?: NativeError }>;
  /** A symlink's own xattrs (llistxattr/lgetxattr), in listing order; [] where unsupported. */
  lxattrs(path: string): { name: string; value: Uint8Array }[];
  /** Set an xattr on a symlink itself (lsetxattr). */
  lsetxattr(path: string, name: string, value: Uint8Array): void;
  /** Non-blocking OFD lock (flock where unsupported); kind 0 unlock, 1 shared, 2 exclusive. false: held by another. */
  lock(fd: number, kind: 0 | 1 | 2): boolean;
  planOpen(objectsDir: string): PlanHandle;
  planPush(plan: PlanHandle, chunk: string): void;
  planFinish(plan: PlanHandle, abort: boolean): Promise<PlanResult>;
  /**
   * Hardlink checkout of a whole tree into the existing empty directory `root`,
   * walked natively by `threads` workers (native/checkout.c): dirtrees are read
   * from `objectsDir`, SHA-256-verified and parsed there. Not for bare-user
   * repositories (their symlinks are regular files).
   */
  checkoutTree(objectsDir: string, root: string, tree: string, meta: string, opts: TreeCheckoutOptions): Promise<TreeCheckoutResult>;
  /**
   * The scan behind a prune (native/prune.c): mark the trees of `roots`
   * ([dirtree, dirmeta, partial]) while another thread lists objects/; the
   * listed commits, dirtrees, dirmetas and content objects (`contentExt`)
   * not reached, as "xx/rest.ext", and how many were listed.
   */
  pruneScan(objectsDir: string, roots: [string, string, boolean][], commits: string[], contentExt: string): Promise<PruneScanResult>;
  /**
   * What the tree `tree` (with root dirmeta `meta`) still lacks, looking in
   * `dirs` in order (a transaction's staging directory, then objects/; both
   * laid out xx/rest.ext): native/prune.c walks every stored dirtree
   * (SHA-256-verified, parsed in C) and lists the reachable trees not stored
   * (not descended into), dirmetas and content objects (`contentExt`) in
   * neither directory. `error`: a stored tree that is corrupt or malformed
   * (code, checksum), or a system error.
   */
  missingScan(dirs: string[], tree: string, meta: string, contentExt: string): Promise<MissingScanResult>;
  /**
   * Run a static-delta part in one thread-pool job (native/delta_exec.c), for
   * bare-user repositories: the interpreter of shared/delta/execute.ts with
   * every object SHA-256-verified and created under `stagingDir` (xx/rest.ext;
   * read sources looked up in `sourceDirs`). `staged`: indexes of the objects
   * it created; `error`: the first failure (objects created before it stay).
   */
  executePart(args: NativeExecuteArgs): Promise<NativeExecuteResult>;
  /**
   * Fetch content objects (objects/xx/rest.filez) of a pull over one
   * keep-alive HTTP/1.1 connection in a thread-pool job (native/fetch.c),
   * verifying and staging each as inflateVerify does. Per checksum: staged;
   * or a 200 it did not stage (xattrs, a mismatch…) as `body`, or over
   * `maxBody` as a `file` in stagingDir, for the caller to verify; or another
   * HTTP `status`; or none (no usable answer: chunked, a network error).
   */
  fetchObjects(args: NativeFetchArgs): Promise<NativeFetchResult[]>;
  /** The raw bsdiff stream (as ostree embeds) from `old` to `neu`, computed on the thread pool (native/bsdiff.c). */
  bsdiff(old: Uint8Array, neu: Uint8Array): Promise<Uint8Array>;
  /** Apply a raw bsdiff stream on the thread pool: exactly `size` bytes, or a rejection with code ERR_BAD_FORMAT (as shared/delta/bspatch.ts). */
  bspatch(old: Uint8Array, patch: Uint8Array, size: number): Promise<Uint8Array>;
  /**
   * glibc: serve allocations of at least `bytes` with mmap and return them at
   * free (mallopt M_MMAP_THRESHOLD + M_TRIM_THRESHOLD; no adaptive threshold).
   * false where unsupported.
   */
  mallocMmapThreshold(bytes: number): boolean;
  /** The native dirtree parser alone (tests): names and hex checksums; throws code ERR_BAD_FORMAT. */
  parseDirtree(bytes: Uint8Array): { files: [string, string][]; dirs: [string, string, string][] };
  /** The native dirmeta parser alone (tests); throws code ERR_BAD_FORMAT. */
  parseDirmeta(bytes: Uint8Array): { uid: number; gid: number; mode: number; xattrs: [string, Uint8Array][] };
}

/** How writeNew creates a file: final mode (set last), xattrs, owner (uid -1: unchanged). */
export interface NativeWriteOptions { mode: number; xattrs?: readonly { name: string; value: Uint8Array }[]; uid?: number; gid?: number }

/** A native call's system error as Node reports its own (code ENOENT, errno, syscall, path). */
export function nativeSystemError(err: NativeError): Error {
  const code = getSystemErrorName(err.errno);
  return Object.assign(new Error(`${code}: ${err.message}, ${err.syscall} '${err.path ?? ''}'`), { code, errno: err.errno, syscall: err.syscall, path: err.path });
}

let loaded: NativeSys | null | undefined;

/** The addon, or null when it is not built (or disabled with OTS_NO_NATIVE=1). */
export function nativeSys(): NativeSys | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.OTS_NO_NATIVE === '1') return loaded;
  // The same file seen from shared/native (sources), dist/shared/native and dist/bundle.
  for (const rel of ['../../native/build/Release/ots_sys.node', '../../../native/build/Release/ots_sys.node']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (!existsSync(path)) continue;
    loaded = lazyRequire<NativeSys>(path);
    break;
  }
  return loaded;
}
