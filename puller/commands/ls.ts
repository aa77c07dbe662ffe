// ots ls [-R] [-C] REV [PATH...]: list a commit's tree like ostree ls.
import { S_IFLNK, S_IFMT, type Checksum } from '../../shared/objects/index.js';
import { resolveTreePath, type Repo, type TreeNode } from '../../shared/repo/index.js';
import { needArgs, openRepo, parseCommand, type Command, type CommandContext } from '../context.js';

const USAGE = 'ots --repo=PATH ls [-R] [-C] [-d] REV [PATH...]';

interface Row { type: 'd' | '-' | 'l'; mode: number; uid: number; gid: number; size: number; path: string; target?: string; checksum?: string }

export const ls: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, {
    recursive: { type: 'boolean', short: 'R' },
    checksum: { type: 'boolean', short: 'C' },
    'dironly': { type: 'boolean', short: 'd' },
  }, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const commit = await repo.resolveRev(positionals[0] as string);
  const rows: Row[] = [];
  for (const p of positionals.length > 1 ? positionals.slice(1) : ['/']) {
    const node = await resolveTreePath(repo, commit, p);
    rows.push(await rowOf(repo, node));
    if (node.kind === 'dir' && !values.dironly) await listDir(repo, node, values.recursive === true, rows);
  }
  printRows(ctx, rows, values.json === true, values.checksum === true);
  return 0;
};

async function rowOf(repo: Repo, node: TreeNode): Promise<Row> {
  if (node.kind === 'dir') {
    const m = await repo.loadDirmeta(node.dirmeta);
    return { type: 'd', mode: m.mode & 0o7777, uid: m.uid, gid: m.gid, size: 0, path: node.path, checksum: node.dirtree };
  }
  return fileRow(repo, node.checksum, node.path);
}

async function fileRow(repo: Repo, csum: Checksum, path: string): Promise<Row> {
  const { header, size } = await repo.readContentHeader(csum);
  const isLink = (header.mode & S_IFMT) === S_IFLNK;
  return {
    type: isLink ? 'l' : '-', mode: header.mode & 0o7777, uid: header.uid, gid: header.gid, size: isLink ? 0 : size, path,
    target: isLink ? header.symlinkTarget : undefined, checksum: csum,
  };
}

async function listDir(repo: Repo, node: TreeNode & { kind: 'dir' }, recursive: boolean, rows: Row[]): Promise<void> {
  const dt = await repo.loadDirtree(node.dirtree);
  const base = node.path === '/' ? '' : node.path;
  for (const f of dt.files) rows.push(await fileRow(repo, f.checksum, `${base}/${f.name}`));
  for (const d of dt.dirs) {
    const child: TreeNode & { kind: 'dir' } = { kind: 'dir', dirtree: d.dirtree, dirmeta: d.dirmeta, path: `${base}/${d.name}` };
    rows.push(await rowOf(repo, child));
    if (recursive) await listDir(repo, child, true, rows);
  }
}

function printRows(ctx: CommandContext, rows: Row[], json: boolean, withChecksum: boolean): void {
  if (json) { ctx.io.out(JSON.stringify(rows)); return; }
  for (const r of rows) {
    const csum = withChecksum && r.checksum ? ` ${r.checksum}` : '';
    const link = r.target !== undefined ? ` -> ${r.target}` : '';
    ctx.io.out(`${r.type}0${r.mode.toString(8).padStart(4, '0')} ${r.uid} ${r.gid} ${String(r.size).padStart(6)}${csum} ${r.path}${link}`);
  }
}
