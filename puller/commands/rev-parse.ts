// ots rev-parse REV: print the commit checksum a revision names.
import { needArgs, openRepo, parseCommand, type Command } from '../context.js';

const USAGE = 'ots --repo=PATH rev-parse REV';

export const revParse: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, {}, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  for (const rev of positionals) ctx.io.out(await repo.resolveRev(rev));
  return 0;
};
