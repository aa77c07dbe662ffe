// The repository lock, as ostree takes it: an OFD lock on `.lock` in the repo,
// shared while a transaction writes objects, exclusive while objects are
// deleted (prune). Stock ostree and ots therefore exclude each other: a prune
// by either never removes objects a running pull or commit of the other needs.
// A busy lock is retried until core.lock-timeout-secs (default 300; -1 waits
// forever); core.locking=false disables locking, as in ostree. Without the
// native helper (see shared/native/sys.ts) there is no lock.
import { closeSync, openSync } from 'node:fs';
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
  const native = nativeSys();
  if (!native || repo.config.get('core', 'locking') === 'false') return NO_LOCK;
  const timeoutSecs = Number(repo.config.get('core', 'lock-timeout-secs') ?? '300');
  const fd = openSync(join(repo.path, '.lock'), 'a+', 0o644);
  const deadline = Date.now() + timeoutSecs * 1000;
  try {
    while (!native.lock(fd, kind === 'exclusive' ? 2 : 1)) {
      if (timeoutSecs >= 0 && Date.now() >= deadline) {
        throw new OtError('ERR_LOCKED', `Locking repo ${kind} failed: another process holds ${repo.path}/.lock (waited ${timeoutSecs} s)`, {
          path: join(repo.path, '.lock'),
          hint: 'wait for the other ostree/ots process (a prune, pull or commit) to finish, or raise core.lock-timeout-secs',
        });
      }
      await sleep(POLL_MS);
    }
  } catch (err: unknown) {
    closeSync(fd);
    throw err;
  }
  let held = true;
  // Closing the file description releases the lock.
  return { release: () => { if (held) { held = false; closeSync(fd); } } };
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
