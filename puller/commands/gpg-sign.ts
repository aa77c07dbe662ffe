// ots gpg-sign [--gpg-homedir=DIR] [--delete] COMMIT KEYID...: add (or remove) GPG signatures on a commit.
import { OtError } from '../../shared/errors.js';
import { readCommitDetached, writeCommitDetached } from '../../shared/repo/index.js';
import { GPG_KEY, filterSignatures, gpgSignatureKeyIds, signaturesOf } from '../../shared/sign/index.js';
import { needArgs, openRepo, parseCommand, type Command } from '../context.js';
import { signCommit } from '../sign-objects.js';

const USAGE = 'ots --repo=PATH gpg-sign [--gpg-homedir=DIR] [--delete] COMMIT KEYID...';

export const gpgSignCmd: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, { 'gpg-homedir': { type: 'string' }, delete: { type: 'boolean', short: 'd' } }, USAGE);
  needArgs(positionals, 2, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const [rev, ...keys] = positionals as [string, ...string[]];
  const csum = await repo.resolveRev(rev);
  if (values.delete) {
    const dict = await readCommitDetached(repo, csum);
    const ids = await Promise.all(signaturesOf(dict, GPG_KEY).map(gpgSignatureKeyIds));
    const drop = new Set(keys.map((k) => k.toUpperCase().slice(-16)));
    let removed = 0;
    let i = 0;
    const kept = filterSignatures(dict, GPG_KEY, () => {
      const mine = ids[i++] ?? [];
      const hit = mine.some((id) => drop.has(id));
      if (hit) removed++;
      return !hit;
    });
    if (removed === 0) throw new OtError('ERR_SIGNATURE_MISSING', `No signature by ${keys.join(', ')} on commit ${csum}`);
    await writeCommitDetached(repo, csum, kept);
    ctx.io.out(`Signatures deleted: ${removed}`);
    return 0;
  }
  await signCommit(repo, csum, { gpgKeyIds: keys, gpgHomedir: values['gpg-homedir'] });
  return 0;
};
