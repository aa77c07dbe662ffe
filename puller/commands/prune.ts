// ots prune [--no-prune] [--refs-only] [--depth=N] [--json]: delete objects no
// commit (or, with --refs-only, no ref) reaches, as ostree prune does.
import { OtError } from '../../shared/errors.js';
import { pruneRepo } from '../../shared/repo/index.js';
import { openRepo, parseCommand, type Command } from '../context.js';
import { formatSize } from '../format-size.js';

const USAGE = 'ots --repo=PATH prune [--no-prune] [--refs-only] [--depth=N] [--json]';

export const prune: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, {
    'no-prune': { type: 'boolean' }, 'refs-only': { type: 'boolean' }, depth: { type: 'string' },
  }, USAGE);
  if (positionals.length > 0) throw new OtError('ERR_INVALID_ARGUMENT', `Unexpected argument ${positionals[0] as string}`, { hint: `usage: ${USAGE}` });
  if (values.depth !== undefined && !/^-?\d+$/.test(values.depth)) {
    throw new OtError('ERR_INVALID_ARGUMENT', `--depth needs an integer, got '${values.depth}'`, { hint: '-1 keeps all history, 0 only the commits themselves' });
  }
  const repo = await openRepo(ctx, values.repo);
  const noPrune = values['no-prune'] === true;
  const r = await pruneRepo(repo, { noPrune, refsOnly: values['refs-only'] === true, depth: values.depth === undefined ? -1 : Number(values.depth) });
  if (values.json) {
    ctx.io.out(JSON.stringify({ ...r, deleted: !noPrune }));
    return 0;
  }
  ctx.io.out(`Total objects: ${r.total}`);
  if (r.pruned === 0) ctx.io.out('No unreachable objects');
  else if (noPrune) ctx.io.out(`Would delete: ${r.pruned} objects, freeing ${formatSize(r.freedBytes)}`);
  else ctx.io.out(`Deleted ${r.pruned} objects, ${formatSize(r.freedBytes)} freed`);
  return 0;
};
