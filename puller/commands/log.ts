// ots log REV: the commit and its ancestors, newest first, like ostree log.
import type { Checksum } from '../../shared/objects/index.js';
import { needArgs, openRepo, parseCommand, type Command } from '../context.js';
import { commitJson, formatCommit } from '../format-commit.js';

const USAGE = 'ots --repo=PATH log [--json] REV';

export const log: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, {}, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  let csum: Checksum | null = await repo.resolveRev(positionals[0] as string);
  const json: unknown[] = [];
  while (csum !== null) {
    if (!(await repo.hasObject(csum, 'commit'))) {
      if (!values.json) ctx.io.out('<< History beyond this commit not fetched >>');
      break;
    }
    const c = await repo.loadCommit(csum);
    if (values.json) json.push(commitJson(csum, c));
    else for (const l of formatCommit(csum, c)) ctx.io.out(l);
    csum = c.parent;
  }
  if (values.json) ctx.io.out(JSON.stringify(json));
  return 0;
};
