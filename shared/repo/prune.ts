// Delete unreachable objects (ostree prune): every loose commit, dirtree,
// dirmeta and content object that no root reaches is removed, with the
// commitmeta and commitpartial marker of a removed commit, then every static
// delta whose target commit is gone. Roots are all refs (--refs-only) or all
// commits, each followed `depth` parents (-1: all), plus extra commits (the
// deployments, for admin cleanup). Runs under the exclusive repository lock,
// so no pull or commit (ours or ostree's) is writing meanwhile.
import { readdirSync } from 'node:fs';
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError, isErrno, isOtError } from '../errors.js';
import { fromModifiedBase64, type Checksum, type Commit, type DeltaRoot, type Dirtree } from '../objects/index.js';
import { nativeSys, nativeSystemError, type NativeSys } from '../native/sys.js';
import { withRepoLock } from './lock.js';
import type { Repo } from './repo.js';

export interface PruneOptions {
  /** Roots are the refs only (else every commit in the repo). */
  refsOnly?: boolean;
  /** Parents followed from each root: -1 (default) all, 0 none. */
  depth?: number;
  /** Count what would go, delete nothing. */
  noPrune?: boolean;
  /** More root commits, e.g. deployments. */
  extraCommits?: readonly Checksum[];
}

export interface PruneResult {
  /** Objects considered (ostree's "Total objects"). */
  total: number;
  /** Objects deleted, or that would be with noPrune. */
  pruned: number;
  /** Their size on disk in bytes. */
  freedBytes: number;
  /** Static deltas removed because their target commit is gone. */
  deltasPruned: number;
}

/** What prune lists and keeps, per kind: checksums (a commitmeta goes with its commit). */
export interface LooseObjects { commit: Set<string>; dirtree: Set<string>; dirmeta: Set<string>; file: Set<string> }
type Kind = keyof LooseObjects;

const KIND_OF_EXT: Record<string, Kind> = { '.commit': 'commit', '.dirtree': 'dirtree', '.dirmeta': 'dirmeta' };

function emptySets(): LooseObjects {
  return { commit: new Set(), dirtree: new Set(), dirmeta: new Set(), file: new Set() };
}

/**
 * The loose objects ostree lists and prunes: commits, dirtrees, dirmetas and
 * content (.file, or .filez in archive repos), named as ostree names them (two
 * hex digits of directory, 62 characters before the dot). Synchronous readdirs:
 * 256 small directories, cheaper than as many thread-pool round trips.
 */
export function listLooseObjects(repo: Repo): LooseObjects {
  const out = emptySets();
  const root = join(repo.path, 'objects');
  const contentExt = repo.isArchive ? '.filez' : '.file';
  for (const prefix of readdirSync(root)) {
    if (prefix.length !== 2 || !/^[0-9a-f]{2}$/.test(prefix)) continue;
    for (const name of readdirSync(join(root, prefix))) {
      if (name.charCodeAt(62) !== 0x2e) continue;
      const ext = name.slice(62);
      const kind = ext === contentExt ? 'file' : KIND_OF_EXT[ext];
      if (kind !== undefined) out[kind].add(prefix + name.slice(0, 62));
    }
  }
  return out;
}

/** Prune `repo`. Throws ERR_LOCKED when another process holds the lock too long, ERR_OBJECT_NOT_FOUND for a complete commit missing part of its tree. */
export async function pruneRepo(repo: Repo, opts: PruneOptions = {}): Promise<PruneResult> {
  return withRepoLock(repo, 'exclusive', async () => {
    const depth = opts.depth ?? -1;
    const native = nativeSys();
    const scan = native && opts.refsOnly ? await nativeScan(native, repo, depth, opts.extraCommits ?? []) : await scriptScan(repo, opts, depth);
    let pruned = 0;
    let freedBytes = 0;
    for (const { kind, csum } of scan.unreachable) {
      const file = repo.objectPath(csum, kind);
      pruned++;
      freedBytes += (await lstat(file)).size;
      if (opts.noPrune) continue;
      if (kind === 'commit') {
        await rm(repo.objectPath(csum, 'commitmeta'), { force: true });
        await rm(join(repo.path, 'state', `${csum}.commitpartial`), { force: true });
      }
      await rm(file, { force: true });
    }
    const deltasPruned = opts.noPrune ? 0 : (await pruneDeltas(repo, 'deltas')) + (await pruneDeltas(repo, 'deltas-zstd'));
    return { total: scan.total, pruned, freedBytes, deltasPruned };
  });
}

/** What a prune would delete (commits first: an interrupted prune never leaves a commit without its tree), of `total` listed. */
interface Scan { total: number; unreachable: { kind: Kind; csum: Checksum }[] }

const KINDS = ['commit', 'dirtree', 'dirmeta', 'file'] as const;

/** Roots and marking in TypeScript. */
async function scriptScan(repo: Repo, opts: PruneOptions, depth: number): Promise<Scan> {
  const objects = listLooseObjects(repo);
  const reachable = emptySets();
  const roots = opts.refsOnly ? (await repo.listRefs()).map((r) => r.checksum) : [...objects.commit] as Checksum[];
  for (const c of [...roots, ...(opts.extraCommits ?? [])]) {
    walkCommits(repo, c, depth, reachable.commit, (commit, partial) => markTree(repo, commit.rootDirtree, commit.rootDirmeta, commit.csum, partial, reachable, true));
  }
  const unreachable: Scan['unreachable'] = [];
  let total = 0;
  for (const kind of KINDS) {
    total += objects[kind].size;
    for (const csum of objects[kind]) if (!reachable[kind].has(csum)) unreachable.push({ kind, csum: csum as Checksum });
  }
  return { total, unreachable };
}

/**
 * The refs' commits walked here, their trees marked natively while another
 * native thread lists the objects (native/prune.c): deploy ends with this.
 */
async function nativeScan(native: NativeSys, repo: Repo, depth: number, extra: readonly Checksum[]): Promise<Scan> {
  const commits = new Set<string>();
  const roots: [string, string, boolean][] = [];
  const rootCommits: Checksum[] = [];
  for (const c of [...(await repo.listRefs()).map((r) => r.checksum), ...extra]) {
    walkCommits(repo, c, depth, commits, (commit, partial) => {
      roots.push([commit.rootDirtree, commit.rootDirmeta, partial]);
      rootCommits.push(commit.csum);
    });
  }
  const res = await native.pruneScan(join(repo.path, 'objects'), roots, [...commits], repo.isArchive ? '.filez' : '.file');
  if (res.error) {
    const e = res.error;
    if ('errno' in e) throw nativeSystemError(e);
    const commit = rootCommits[e.root ?? -1];
    if (e.code === 'ERR_OBJECT_NOT_FOUND') {
      throw new OtError('ERR_OBJECT_NOT_FOUND', `Commit ${commit ?? '?'} is incomplete: dirtree ${e.checksum} is missing; not pruning`, {
        checksum: e.checksum, objectType: 'dirtree', hint: 'run ots fsck; pull the commit again to complete it',
      });
    }
    throw new OtError(e.code, `Cannot prune: dirtree ${e.checksum} of commit ${commit ?? '?'}: ${e.message}`, { checksum: e.checksum, objectType: 'dirtree', hint: 'run ots fsck to list every damaged object' });
  }
  const unreachable: Scan['unreachable'] = res.unreachable.map((rel) => {
    const dot = rel.indexOf('.');
    const ext = rel.slice(dot);
    return { kind: KIND_OF_EXT[ext] ?? 'file', csum: `${rel.slice(0, 2)}${rel.slice(3, dot)}` as Checksum };
  });
  unreachable.sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind));
  return { total: res.total, unreachable };
}

/**
 * Follow a commit and `depth` of its parents, calling `visit` for each one
 * not in `seen`. A missing commit ends the chain (repositories are often
 * shallow).
 */
function walkCommits(repo: Repo, start: Checksum, depth: number, seen: Set<string>, visit: (commit: Commit & { csum: Checksum }, partial: boolean) => void): void {
  let csum: Checksum | null = start;
  let left = depth;
  while (csum !== null) {
    if (seen.has(csum) || !repo.hasObjectSync(csum, 'commit')) return;
    seen.add(csum);
    const commit = repo.loadCommitSync(csum);
    visit({ ...commit, csum }, repo.isCommitPartialSync(csum));
    if (left === 0) return;
    if (left > 0) left--;
    csum = commit.parent;
  }
}

/** Synchronous: a few thousand small reads, cheaper than as many thread-pool round trips (deploy runs this). */
function markTree(repo: Repo, tree: Checksum, meta: Checksum, commit: Checksum, partial: boolean, reachable: LooseObjects, root = false): void {
  // As ostree's traversal: a subdirectory's dirmeta is kept even when its tree is
  // missing, but a partial commit whose root tree is missing keeps nothing of it.
  if (!root) reachable.dirmeta.add(meta);
  if (reachable.dirtree.has(tree)) {
    reachable.dirmeta.add(meta);
    return;
  }
  let dt: Dirtree;
  try {
    dt = repo.loadDirtreeSync(tree);
  } catch (err: unknown) {
    if (!isOtError(err, 'ERR_OBJECT_NOT_FOUND')) throw err;
    if (partial) return;
    throw new OtError('ERR_OBJECT_NOT_FOUND', `Commit ${commit} is incomplete: dirtree ${tree} is missing; not pruning`, {
      checksum: tree, objectType: 'dirtree', cause: err, hint: 'run ots fsck; pull the commit again to complete it',
    });
  }
  reachable.dirmeta.add(meta);
  reachable.dirtree.add(tree);
  for (const f of dt.files) reachable.file.add(f.checksum);
  for (const d of dt.dirs) markTree(repo, d.dirtree, d.dirmeta, commit, partial, reachable);
}

/** Remove the deltas under `which` whose target commit is not in the repo. */
async function pruneDeltas(repo: Repo, which: DeltaRoot): Promise<number> {
  const root = join(repo.path, which);
  let prefixes: string[];
  try {
    prefixes = readdirSync(root);
  } catch (err: unknown) {
    if (isErrno(err, 'ENOENT')) return 0;
    throw err;
  }
  let n = 0;
  for (const p of prefixes) {
    for (const rest of readdirSync(join(root, p))) {
      const dash = rest.indexOf('-');
      let to: Checksum;
      try {
        to = fromModifiedBase64(dash === -1 ? p + rest : rest.slice(dash + 1));
      } catch {
        continue; // not a delta name: not ours to remove
      }
      if (repo.hasObjectSync(to, 'commit')) continue;
      await rm(join(root, p, rest), { recursive: true, force: true });
      n++;
    }
  }
  return n;
}
