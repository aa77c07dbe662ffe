// Resolve a path inside a commit's tree (ostree ls / cat).
import { OtError } from '../errors.js';
import type { Checksum } from '../objects/index.js';
import type { Repo } from './repo.js';

/** What a path names inside a tree. */
export type TreeNode =
  | { kind: 'dir'; dirtree: Checksum; dirmeta: Checksum; path: string }
  | { kind: 'file'; checksum: Checksum; path: string };

/** Resolve `path` (absolute or relative, '/' for the root) in commit `commit`. Throws ERR_OBJECT_NOT_FOUND. */
export async function resolveTreePath(repo: Repo, commit: Checksum, path: string): Promise<TreeNode> {
  const c = await repo.loadCommit(commit);
  let node: TreeNode = { kind: 'dir', dirtree: c.rootDirtree, dirmeta: c.rootDirmeta, path: '/' };
  for (const part of path.split('/').filter((p) => p !== '' && p !== '.')) {
    if (node.kind !== 'dir') throw notFound(path);
    const dt = await repo.loadDirtree(node.dirtree);
    const childPath: string = node.path === '/' ? `/${part}` : `${node.path}/${part}`;
    const d = dt.dirs.find((x) => x.name === part);
    if (d) { node = { kind: 'dir', dirtree: d.dirtree, dirmeta: d.dirmeta, path: childPath }; continue; }
    const f = dt.files.find((x) => x.name === part);
    if (!f) throw notFound(path);
    node = { kind: 'file', checksum: f.checksum, path: childPath };
  }
  return node;
}

function notFound(path: string): OtError {
  return new OtError('ERR_OBJECT_NOT_FOUND', `No such file or directory: ${path}`, { path });
}
