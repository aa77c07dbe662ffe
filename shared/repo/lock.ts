// The repository lock, as ostree takes it: an OFD lock on `.lock` in the repo,
// shared while a transaction writes objects, exclusive while objects are
// deleted (prune). Stock ostree and ots therefore exclude each other: a prune
// by either never removes objects a running pull or commit of the other needs.
// A busy lock is retried until core.lock-timeout-secs (default 30, as in ostree
// 2022.7, our referee; upstream main has 300; -1 waits forever);
// core.locking=false disables locking, as in ostree. Without the native helper
// (see shared/native/sys.ts) there is no lock.
import { closeSync, fstatSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OtError } from '../errors.js';
import { nativeSys } from '../native/sys.js';
import type { Repo } from './repo.js';

export type LockKind = 'shared' | 'exclusive';

export interface RepoLock { release(): void }

const NO_LOCK: RepoLock = { release: () => undefined };
const POLL_MS = 50;

/** Take the repository lock; resolves once held. Throws ERR_LOCKED after core.lock-timeout-secs. */
export async function lockRepo(repo: Repo, kind: LockKind): Promise<RepoLock> {
  if (repo.config.get('core', 'locking') === 'false') return NO_LOCK;
  return lockFile(join(repo.path, '.lock'), kind, {
    timeoutSecs: Number(repo.config.get('core', 'lock-timeout-secs') ?? '30'),
    what: `repo ${kind}`,
    hint: 'wait for the other ostree/ots process (a prune, pull or commit) to finish, or raise core.lock-timeout-secs',
  });
}

/**
 * An OFD lock on `path` (created 0644 if absent), polled every 50 ms until held
 * or `timeoutSecs` pass (-1: wait forever); `onWait` runs once if it must wait.
 * With `unlinkOnRelease` the file is removed when an exclusive hold ends, as
 * libglnx's lock files (ostree's sysroot lock) are; a lock taken on a file
 * unlinked meanwhile is retried on the new file. A no-op lock without the
 * native helper.
 */
export async function lockFile(path: string, kind: LockKind, opts: {
  timeoutSecs: number; what: string; hint: string; onWait?: () => void; unlinkOnRelease?: boolean;
}): Promise<RepoLock> {
  const native = nativeSys();
  if (!native) return NO_LOCK;
  const deadline = Date.now() + opts.timeoutSecs * 1000;
  let waited = false;
  for (;;) {
    const fd = openSync(path, 'a+', 0o644);
    try {
      while (!native.lock(fd, kind === 'exclusive' ? 2 : 1)) {
        if (opts.timeoutSecs >= 0 && Date.now() >= deadline) {
          throw new OtError('ERR_LOCKED', `Locking ${opts.what} failed: another process holds ${path} (waited ${opts.timeoutSecs} s)`, { path, hint: opts.hint });
        }
        if (!waited) { waited = true; opts.onWait?.(); }
        await sleep(POLL_MS);
      }
    } catch (err: unknown) {
      closeSync(fd);
      throw err;
    }
    if (fstatSync(fd).nlink === 0) { closeSync(fd); continue; } // the previous holder removed it: lock the new file
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        if (opts.unlinkOnRelease && kind === 'exclusive') rmSync(path, { force: true });
        closeSync(fd); // closing the file description releases the lock
      },
    };
  }
}

/** Run `fn` under the repository lock. */
export async function withRepoLock<T>(repo: Repo, kind: LockKind, fn: () => Promise<T>): Promise<T> {
  const lock = await lockRepo(repo, kind);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
