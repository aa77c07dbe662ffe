// The only code that makes repository writes durable: temp file + fsync +
// rename, directory fsync, and a filesystem-wide sync for transactions.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { OtError } from '../errors.js';
import { lazyRequire } from '../lazy-require.js';
import { nativeSys } from '../native/sys.js';

/** A random name for a temporary file. */
export function tmpName(prefix = 'tmp'): string {
  return `${prefix}-${randomBytes(8).toString('hex')}`;
}

/**
 * Named fault points for crash tests: when OSTREE_TS_TEST_FAULT names this
 * point (passed down by the CLI as `faults`), the process dies right here.
 */
let activeFault: string | undefined;
export function setTestFault(name: string | undefined): void {
  activeFault = name;
}
export function faultPoint(name: string): void {
  if (activeFault === name) process.kill(process.pid, 'SIGKILL');
}

/** fsync a directory so a rename or link inside it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

/**
 * Write `data` to `path` atomically: write a temp file next to it (flag wx),
 * fsync it, rename it over `path`, fsync the directory. Readers see the old
 * or the new content, never a mix; a crash leaves at most a stray temp file.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, opts: { mode?: number; tmpDir?: string } = {}): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(opts.tmpDir ?? dir, `.${tmpName()}`);
  const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err: unknown) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err: unknown) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/**
 * Flush every dirty page of the filesystem holding `path` (syncfs(2): through
 * the native helper, else coreutils `sync -f`, as Node has no binding): one
 * call makes a whole transaction's objects durable, instead of one fsync per
 * object (see ../shared/research/dependencies.md §4 for the measured difference).
 */
export async function syncFilesystem(path: string): Promise<void> {
  const native = nativeSys();
  try {
    if (native) await native.syncfs(path);
    else await syncCommand(path);
  } catch (err: unknown) {
    throw new OtError('ERR_IO', `syncfs of ${path} failed`, { cause: err, path, hint: native ? 'check the filesystem (dmesg)' : 'is coreutils installed?' });
  }
}

/**
 * Start writing back the filesystem holding `path` (syncfs on a pool thread)
 * while the caller keeps working; a later syncFilesystem then has less left
 * to wait for. Never rejects (that later sync reports failures); resolves at
 * once without the native helper.
 */
export function startWriteback(path: string): Promise<void> {
  const native = nativeSys();
  return native ? native.syncfs(path).catch(() => undefined) : Promise.resolve();
}

/** `sync -f PATH`, loaded on demand: child_process is not needed when the native helper is there. */
async function syncCommand(path: string): Promise<void> {
  const { execFile } = lazyRequire<typeof import('node:child_process')>('node:child_process');
  await new Promise<void>((resolve, reject) => execFile('sync', ['-f', path], (err) => (err ? reject(err) : resolve())));
}
