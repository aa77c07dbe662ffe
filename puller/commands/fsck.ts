// ots fsck: verify every object and every commit's tree; exit 1 on any problem.
import { fsckRepo } from '../../shared/repo/index.js';
import { openRepo, parseCommand, type Command } from '../context.js';
import { Progress } from '../progress.js';

const USAGE = 'ots --repo=PATH fsck [--json]';

export const fsck: Command = async (ctx, argv) => {
  const { values } = parseCommand(argv, {}, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const progress = new Progress(ctx.io, 'Verifying objects');
  if (!values.json) ctx.io.out('Validating refs...');
  for (const r of await repo.listRefs()) await repo.hasObject(r.checksum, 'commit');
  if (!values.json) ctx.io.out('Enumerating objects...');
  const result = await fsckRepo(repo, { onProgress: (n) => progress.update(n) });
  progress.done();
  if (values.json) {
    ctx.io.out(JSON.stringify(result));
  } else {
    ctx.io.out(`Verified ${result.objects} objects in ${result.commits} commits`);
    for (const p of result.problems) ctx.io.err(`error: ${p.message}`);
  }
  if (result.problems.length > 0) {
    ctx.io.err(`error: ${result.problems.length} problem(s) found; the objects named above are corrupt or missing`);
    return 1;
  }
  return 0;
};
