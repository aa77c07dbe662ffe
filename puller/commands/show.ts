// ots show REV: print a commit like ostree show (--json for machines).
import { needArgs, openRepo, parseCommand, type Command } from '../context.js';
import { commitJson, formatCommit } from '../format-commit.js';

const USAGE = 'ots --repo=PATH show [--json] REV';

export const show: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, {}, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const csum = await repo.resolveRev(positionals[0] as string);
  const c = await repo.loadCommit(csum);
  if (values.json) ctx.io.out(JSON.stringify(commitJson(csum, c)));
  else for (const l of formatCommit(csum, c)) ctx.io.out(l);
  return 0;
};
