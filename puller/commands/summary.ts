// ots summary -u | -v [--raw]: regenerate or print the repository summary.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError } from '../../shared/errors.js';
import { Variant, vardictGet } from '../../shared/gvariant/index.js';
import { bswap64 } from '../../shared/objects/index.js';
import { updateSummary } from '../../shared/repo/index.js';
import { decodeSummary } from '../../shared/summary/index.js';
import { openRepo, parseCommand, type Command } from '../context.js';
import { jsonValue } from '../format-commit.js';
import { hasSigningKeys, signSummary } from '../sign-objects.js';
import { formatDate } from '../parse-time.js';

const USAGE = 'ots --repo=PATH summary (-u [--add-metadata-string=K=V] [--gpg-sign=KEYID [--gpg-homedir=DIR]] [--sign=ED25519-SECRET] | -v [--json])';

export const summary: Command = async (ctx, argv) => {
  const { values } = parseCommand(argv, {
    update: { type: 'boolean', short: 'u' },
    view: { type: 'boolean', short: 'v' },
    'add-metadata-string': { type: 'string', multiple: true },
    'gpg-sign': { type: 'string', multiple: true },
    'gpg-homedir': { type: 'string' },
    sign: { type: 'string', multiple: true },
    'sign-type': { type: 'string' },
  }, USAGE);
  const signWith = { gpgKeyIds: values['gpg-sign'], gpgHomedir: values['gpg-homedir'], ed25519Keys: values.sign };
  const repo = await openRepo(ctx, values.repo);
  if (values.update) {
    const extra = (values['add-metadata-string'] ?? []).map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw new OtError('ERR_INVALID_ARGUMENT', `Missing '=' in ${kv}`);
      return [kv.slice(0, i), new Variant('s', kv.slice(i + 1))] as const;
    });
    await updateSummary(repo, { now: ctx.now(), extraMetadata: extra });
    if (hasSigningKeys(signWith)) await signSummary(repo, signWith);
    return 0;
  }
  if (hasSigningKeys(signWith)) {
    await signSummary(repo, signWith);
    return 0;
  }
  if (!values.view) throw new OtError('ERR_INVALID_ARGUMENT', 'Nothing to do', { hint: `usage: ${USAGE}` });
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(join(repo.path, 'summary')));
  } catch (err: unknown) {
    throw new OtError('ERR_OBJECT_NOT_FOUND', `No summary in ${repo.path}`, { cause: err, hint: `create it with: ots --repo=${repo.path} summary -u` });
  }
  const s = decodeSummary(bytes);
  if (values.json) {
    ctx.io.out(JSON.stringify({
      refs: s.refs.map((r) => ({ name: r.name, checksum: r.checksum, commitSize: Number(r.commitSize), metadata: Object.fromEntries(r.metadata.map(([k, v]) => [k, jsonValue(v)])) })),
      metadata: Object.fromEntries(s.metadata.map(([k, v]) => [k, jsonValue(v)])),
    }));
    return 0;
  }
  for (const r of s.refs) {
    ctx.io.out(`* ${r.name}`);
    ctx.io.out(`    Latest Commit (${r.commitSize} bytes):`);
    ctx.io.out(`      ${r.checksum}`);
    const version = vardictGet(r.metadata, 'ostree.commit.version');
    if (version) ctx.io.out(`    Version (ostree.commit.version): ${String(version.value)}`);
    const ts = vardictGet(r.metadata, 'ostree.commit.timestamp');
    if (ts && typeof ts.value === 'bigint') ctx.io.out(`    Timestamp (ostree.commit.timestamp): ${formatDate(bswap64(ts.value))}`);
    ctx.io.out('');
  }
  for (const [k, v] of s.metadata) {
    const shown = k.endsWith('last-modified') && typeof v.value === 'bigint' ? formatDate(bswap64(v.value)) : JSON.stringify(jsonValue(v));
    ctx.io.out(`${k}: ${shown}`);
  }
  return 0;
};
