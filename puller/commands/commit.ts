// ots commit: layer directories and tarballs into a tree, write the commit,
// move the branch (ostree commit).
import { OtError } from '../../shared/errors.js';
import { Variant, type VardictEntry } from '../../shared/gvariant/index.js';
import { encodeCommit, encodeDirmeta, parseChecksum, S_IFDIR, type Checksum } from '../../shared/objects/index.js';
import {
  DirectoryImporter, MutableTree, Transaction, buildCommitMetadata, importTar, openTar, type CommitModifier,
} from '../../shared/repo/index.js';
import { openRepo, parseCommand, type Command } from '../context.js';
import { parseTimestamp } from '../parse-time.js';
import { detachedSignatures, hasSigningKeys } from '../sign-objects.js';

const USAGE = 'ots --repo=PATH commit -b BRANCH [-s SUBJECT] [--body=BODY] [--timestamp=@EPOCH|DATE] [--parent=COMMIT|none] '
  + '[--add-metadata-string=K=V] [--owner-uid=N] [--owner-gid=N] [--canonical-permissions] [--no-xattrs] [--no-bindings] '
  + '[--orphan] [--gpg-sign=KEYID [--gpg-homedir=DIR]] [--sign=ED25519-SECRET] [--tree=dir=DIR | --tree=tar=FILE | DIR]';

export const commit: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, {
    branch: { type: 'string', short: 'b' },
    subject: { type: 'string', short: 's' },
    body: { type: 'string', short: 'm' },
    timestamp: { type: 'string' },
    parent: { type: 'string' },
    'add-metadata-string': { type: 'string', multiple: true },
    'owner-uid': { type: 'string' },
    'owner-gid': { type: 'string' },
    'canonical-permissions': { type: 'boolean' },
    'no-xattrs': { type: 'boolean' },
    'no-bindings': { type: 'boolean' },
    'bind-ref': { type: 'string', multiple: true },
    orphan: { type: 'boolean' },
    tree: { type: 'string', multiple: true },
    'gpg-sign': { type: 'string', multiple: true },
    'gpg-homedir': { type: 'string' },
    sign: { type: 'string', multiple: true },
    'sign-type': { type: 'string' },
  }, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const branch = values.branch;
  if (!branch && !values.orphan) throw new OtError('ERR_INVALID_ARGUMENT', 'A branch is required', { hint: 'pass -b BRANCH, or --orphan' });
  const sources = [...(values.tree ?? []), ...positionals.map((p) => `dir=${p}`)];
  if (sources.length === 0) sources.push('dir=.');
  const mod: CommitModifier = {
    ownerUid: values['owner-uid'] === undefined ? undefined : parseUint(values['owner-uid'], '--owner-uid'),
    ownerGid: values['owner-gid'] === undefined ? undefined : parseUint(values['owner-gid'], '--owner-gid'),
    canonicalPermissions: values['canonical-permissions'] === true || repo.mode === 'bare-user-only',
    noXattrs: values['no-xattrs'] === true || repo.mode === 'bare-user-only',
  };

  let parent: Checksum | null = null;
  if (values.parent !== undefined && values.parent !== 'none') parent = parseChecksum(values.parent, '--parent');
  else if (values.parent === undefined && branch) parent = await repo.readRef(branch);

  const tx = await Transaction.begin(repo);
  try {
    const tree = new MutableTree();
    const importer = new DirectoryImporter(tx, mod);
    for (const src of sources) {
      const eq = src.indexOf('=');
      const kind = src.slice(0, eq);
      const arg = src.slice(eq + 1);
      if (kind === 'dir') await importer.importInto(tree, arg);
      else if (kind === 'tar') await importTar(tx, tree, openTar(arg), mod);
      else throw new OtError('ERR_INVALID_ARGUMENT', `Unknown --tree kind '${kind}'`, { hint: 'use --tree=dir=PATH or --tree=tar=FILE' });
    }
    const defaultMeta = await tx.writeMetadata('dirmeta', encodeDirmeta({ uid: mod.ownerUid ?? 0, gid: mod.ownerGid ?? 0, mode: S_IFDIR | 0o755, xattrs: [] }));
    const rootDirtree = await tree.write(tx, defaultMeta);
    const entries: VardictEntry[] = (values['add-metadata-string'] ?? []).map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw new OtError('ERR_INVALID_ARGUMENT', `Missing '=' in --add-metadata-string ${kv}`);
      return [kv.slice(0, i), new Variant('s', kv.slice(i + 1))] as const;
    });
    const bindings = values['no-bindings'] ? [] : [...(branch ? [branch] : []), ...(values['bind-ref'] ?? [])];
    const metadata = buildCommitMetadata({ entries, refBindings: bindings, collectionId: values['no-bindings'] ? undefined : repo.config.get('core', 'collection-id') });
    const csum = await tx.writeMetadata('commit', encodeCommit({
      metadata, parent, related: [], subject: values.subject ?? '', body: values.body ?? '',
      timestamp: values.timestamp === undefined ? ctx.now() : parseTimestamp(values.timestamp),
      rootDirtree, rootDirmeta: tree.metaChecksum ?? defaultMeta,
    }));
    // Sign before the ref moves: the signature lands in the same transaction as the commit.
    const signWith = { gpgKeyIds: values['gpg-sign'], gpgHomedir: values['gpg-homedir'], ed25519Keys: values.sign };
    if (hasSigningKeys(signWith)) {
      if ((values['sign-type'] ?? 'ed25519') !== 'ed25519') throw new OtError('ERR_UNSUPPORTED', `Requested signature type is not implemented: ${values['sign-type']}`);
      await tx.writeMetadata('commitmeta', await detachedSignatures(tx.readStagedSync(csum, 'commit'), signWith), csum);
    }
    await tx.commit(branch ? [{ name: branch, checksum: csum }] : []);
    ctx.io.out(csum);
    return 0;
  } catch (err: unknown) {
    await tx.abort();
    throw err;
  }
};

function parseUint(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new OtError('ERR_INVALID_ARGUMENT', `${flag} needs a number, got '${text}'`);
  return Number(text);
}
