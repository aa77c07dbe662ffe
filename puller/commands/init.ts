// ots init --mode=archive|bare|bare-user|bare-user-only [--collection-id=ID]
import { OtError } from '../../shared/errors.js';
import { Repo, parseRepoMode } from '../../shared/repo/index.js';
import { parseCommand, type Command } from '../context.js';

const USAGE = 'ots --repo=PATH init [--mode=archive|bare|bare-user|bare-user-only] [--collection-id=ID]';

export const init: Command = async (ctx, argv) => {
  const { values } = parseCommand(argv, { mode: { type: 'string' }, 'collection-id': { type: 'string' } }, USAGE);
  const path = values.repo ?? ctx.repoPath;
  if (path === undefined) throw new OtError('ERR_INVALID_ARGUMENT', 'No repository given', { hint: `usage: ${USAGE}` });
  const mode = parseRepoMode(values.mode ?? 'bare');
  await Repo.create(path, mode, { collectionId: values['collection-id'] });
  return 0;
};
