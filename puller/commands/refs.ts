// ots refs [--delete REF] [--create=REF COMMIT]: list and edit refs.
import { OtError } from '../../shared/errors.js';
import { parseRefspec } from '../../shared/repo/index.js';
import { openRepo, parseCommand, type Command } from '../context.js';

const USAGE = 'ots --repo=PATH refs [--json] [--delete REF...] [--create=REF COMMIT]';

export const refs: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, { delete: { type: 'boolean' }, create: { type: 'string' } }, USAGE);
  const repo = await openRepo(ctx, values.repo);
  if (values.create !== undefined) {
    if (positionals.length !== 1) throw new OtError('ERR_INVALID_ARGUMENT', '--create needs one COMMIT', { hint: `usage: ${USAGE}` });
    await repo.writeRef(values.create, await repo.resolveRev(positionals[0] as string));
    return 0;
  }
  if (values.delete) {
    for (const p of positionals) {
      const spec = parseRefspec(p);
      await repo.writeRef(spec.ref, null, spec.remote);
    }
    return 0;
  }
  const all = await repo.listRefs();
  if (values.json) {
    ctx.io.out(JSON.stringify(all));
    return 0;
  }
  for (const r of all) ctx.io.out(r.remote === null ? r.name : `${r.remote}:${r.name}`);
  return 0;
};
