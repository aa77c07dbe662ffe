// ots sign [--sign-type=ed25519] [--verify] [--keys-file=F] COMMIT [KEY...]:
// sign a commit with ed25519 secret keys, or verify it with public keys (ostree sign).
import { OtError } from '../../shared/errors.js';
import { readFile } from 'node:fs/promises';
import { readCommitDetached } from '../../shared/repo/index.js';
import { ED25519_KEY, ed25519PublicKey, ed25519VerifyAny, parseEd25519KeysFile, signaturesOf } from '../../shared/sign/index.js';
import { needArgs, openRepo, parseCommand, type Command } from '../context.js';
import { signCommit } from '../sign-objects.js';

const USAGE = 'ots --repo=PATH sign [--sign-type=ed25519] [--verify] [--keys-file=FILE] COMMIT [KEY...]';

export const sign: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, {
    'sign-type': { type: 'string', short: 's' }, verify: { type: 'boolean' }, 'keys-file': { type: 'string' },
  }, USAGE);
  needArgs(positionals, 1, USAGE);
  if ((values['sign-type'] ?? 'ed25519') !== 'ed25519') {
    throw new OtError('ERR_UNSUPPORTED', `Requested signature type is not implemented: ${values['sign-type']}`, { hint: 'use --sign-type=ed25519 (GPG: ots gpg-sign)' });
  }
  const repo = await openRepo(ctx, values.repo);
  const [rev, ...keys] = positionals as [string, ...string[]];
  const csum = await repo.resolveRev(rev);
  if (values.verify) {
    const pubs = keys.map((k) => ed25519PublicKey(k));
    if (values['keys-file']) pubs.push(...parseEd25519KeysFile(await readFile(values['keys-file'], 'utf8')));
    if (pubs.length === 0) throw new OtError('ERR_INVALID_ARGUMENT', 'No public keys given', { hint: `usage: ${USAGE}` });
    const sigs = signaturesOf(await readCommitDetached(repo, csum), ED25519_KEY);
    if (sigs.length === 0) throw new OtError('ERR_SIGNATURE_MISSING', `No signatures found for commit ${csum}`);
    const r = ed25519VerifyAny(await repo.readMetadata(csum, 'commit'), sigs, pubs);
    if (!r.ok) throw new OtError('ERR_SIGNATURE_INVALID', `Can't verify commit ${csum}: no valid ed25519 signature from the given keys`);
    ctx.io.out(`Signature verified successfully with key '${keys[r.keyIndex ?? 0] ?? 'from keys file'}'`);
    return 0;
  }
  const secrets = [...keys];
  if (values['keys-file']) secrets.push(...(await readFile(values['keys-file'], 'utf8')).split('\n').map((l) => l.trim()).filter(Boolean));
  if (secrets.length === 0) throw new OtError('ERR_INVALID_ARGUMENT', 'No secret keys given', { hint: `usage: ${USAGE}` });
  await signCommit(repo, csum, { ed25519Keys: secrets });
  return 0;
};
