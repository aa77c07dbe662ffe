// Verify every loose object (checksum, then structure) and that every commit's
// tree is complete (ostree fsck). Reports all problems, not just the first.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError, isOtError } from '../errors.js';
import { decode } from '../gvariant/index.js';
import {
  checksumOf, decodeCommit, decodeDirmeta, decodeDirtree, isChecksum, objectTypeFromExtension, type Checksum, type ObjectType,
} from '../objects/index.js';
import { Limiter } from './limiter.js';
import type { Repo } from './repo.js';

export interface FsckProblem { checksum: string; objectType: ObjectType | 'unknown'; code: string; message: string }
export interface FsckResult { objects: number; commits: number; problems: FsckProblem[] }

/** Check the whole repository. Never throws for bad objects: they are returned as problems. */
export async function fsckRepo(repo: Repo, opts: { onProgress?: (done: number) => void } = {}): Promise<FsckResult> {
  const found = new Map<string, Set<ObjectType>>();
  const problems: FsckProblem[] = [];
  const limiter = new Limiter(16);
  const checks: Promise<void>[] = [];
  let done = 0;
  const objRoot = join(repo.path, 'objects');
  for (const prefix of (await readdir(objRoot)).sort()) {
    if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
    for (const name of await readdir(join(objRoot, prefix))) {
      const dot = name.indexOf('.');
      const csum = prefix + name.slice(0, dot);
      const type = objectTypeFromExtension(name.slice(dot));
      if (dot === -1 || !isChecksum(csum) || type === undefined) {
        problems.push({ checksum: prefix + name, objectType: 'unknown', code: 'ERR_BAD_FORMAT', message: `Unexpected file objects/${prefix}/${name}` });
        continue;
      }
      let set = found.get(csum);
      if (!set) { set = new Set(); found.set(csum, set); }
      set.add(type);
      checks.push(limiter.run(async () => {
        try {
          await verifyObject(repo, csum, type);
        } catch (err: unknown) {
          problems.push({ checksum: csum, objectType: type, code: isOtError(err) ? err.code : 'ERR_IO', message: err instanceof Error ? err.message : String(err) });
        }
        opts.onProgress?.(++done);
      }));
    }
  }
  await Promise.all(checks);
  const bad = new Set(problems.map((p) => p.checksum));
  let commits = 0;
  for (const [key, types] of found) {
    const csum = key as Checksum;
    if (!types.has('commit') || bad.has(csum)) continue;
    commits++;
    if (await repo.isCommitPartial(csum)) continue;
    problems.push(...(await missingInCommit(repo, csum, found, bad)));
  }
  return { objects: done, commits, problems };
}

async function verifyObject(repo: Repo, csum: Checksum, type: ObjectType): Promise<void> {
  if (type === 'file') {
    await repo.readContentVerified(csum);
    return;
  }
  const bytes = await repo.readMetadata(csum, type);
  if (type === 'commitmeta' || type === 'tombstone-commit') {
    decode('a{sv}', bytes);
    return;
  }
  const actual = checksumOf(bytes);
  if (actual !== csum) {
    throw new OtError('ERR_CHECKSUM_MISMATCH', `Corrupted ${type} object; checksum expected='${csum}' actual='${actual}'`, { checksum: csum, objectType: type });
  }
  if (type === 'commit') decodeCommit(bytes);
  else if (type === 'dirtree') decodeDirtree(bytes);
  else if (type === 'dirmeta') decodeDirmeta(bytes);
}

async function missingInCommit(repo: Repo, commit: Checksum, found: Map<string, Set<ObjectType>>, bad: Set<string>): Promise<FsckProblem[]> {
  const out: FsckProblem[] = [];
  const has = (c: string, t: ObjectType) => found.get(c)?.has(t) === true;
  const missing = (c: string, t: ObjectType, where: string) => {
    if (!has(c, t)) out.push({ checksum: c, objectType: t, code: 'ERR_OBJECT_NOT_FOUND', message: `Missing ${t} object ${c} (${where} of commit ${commit})` });
  };
  const c = await repo.loadCommit(commit);
  missing(c.rootDirmeta, 'dirmeta', '/');
  const seenTrees = new Set<string>();
  const queue: [Checksum, string][] = [[c.rootDirtree, '/']];
  while (queue.length > 0) {
    const [tree, path] = queue.pop() as [Checksum, string];
    if (seenTrees.has(tree)) continue;
    seenTrees.add(tree);
    if (!has(tree, 'dirtree')) { missing(tree, 'dirtree', path); continue; }
    if (bad.has(tree)) continue;
    const dt = await repo.loadDirtree(tree);
    for (const f of dt.files) missing(f.checksum, 'file', path + f.name);
    for (const d of dt.dirs) {
      missing(d.dirmeta, 'dirmeta', path + d.name);
      queue.push([d.dirtree, `${path}${d.name}/`]);
    }
  }
  return out;
}
