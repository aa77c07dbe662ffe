// ots cat REV PATH...: write file contents to stdout.
import { OtError } from '../../shared/errors.js';
import { S_IFLNK, S_IFMT } from '../../shared/objects/index.js';
import { resolveTreePath } from '../../shared/repo/index.js';
import { needArgs, openRepo, parseCommand, type Command } from '../context.js';

const USAGE = 'ots --repo=PATH cat REV PATH...';

export const cat: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, {}, USAGE);
  needArgs(positionals, 2, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const commit = await repo.resolveRev(positionals[0] as string);
  for (const p of positionals.slice(1)) {
    const node = await resolveTreePath(repo, commit, p);
    if (node.kind !== 'file') throw new OtError('ERR_INVALID_ARGUMENT', `${p} is a directory`, { path: p });
    const { header, payload } = await repo.readContent(node.checksum);
    if ((header.mode & S_IFMT) === S_IFLNK) throw new OtError('ERR_INVALID_ARGUMENT', `${p} is a symlink to ${header.symlinkTarget}`, { path: p });
    await new Promise<void>((resolve, reject) => process.stdout.write(payload, (err) => (err ? reject(err) : resolve())));
  }
  return 0;
};
