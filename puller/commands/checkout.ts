// ots checkout [--union] [-H] [-U] [--subpath=PATH] REV DEST
import { checkoutCommit } from '../../shared/repo/index.js';
import { needArgs, openRepo, parseCommand, type Command } from '../context.js';

const USAGE = 'ots --repo=PATH checkout [--union] [-H] [-U] [--subpath=PATH] REV DEST';

export const checkout: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, {
    union: { type: 'boolean' },
    'require-hardlinks': { type: 'boolean', short: 'H' },
    'user-mode': { type: 'boolean', short: 'U' },
    subpath: { type: 'string' },
  }, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const rev = positionals[0] as string;
  const dest = positionals[1] ?? rev;
  const csum = await repo.resolveRev(rev);
  const stats = await checkoutCommit(repo, csum, dest, {
    union: values.union, hardlink: values['require-hardlinks'], requireHardlinks: values['require-hardlinks'], userMode: values['user-mode'], subpath: values.subpath,
  });
  if (values.json) ctx.io.out(JSON.stringify({ commit: csum, dest, ...stats }));
  return 0;
};
