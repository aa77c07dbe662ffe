// ots remote add|delete|list|show-url|refs|summary (ostree remote).
import { OtError } from '../../shared/errors.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listRemotes, readRemote, remoteConfigs, remoteGroup, validateRemoteName, writeFileAtomic } from '../../shared/repo/index.js';
import { readGpgPublicKeys, type GpgPublicKey } from '../../shared/sign/index.js';
import { decodeSummary } from '../../shared/summary/index.js';
import { needArgs, openRepo, parseCommand, type Command, type CommandContext } from '../context.js';
import { Fetcher } from '../fetch/fetcher.js';
import { jsonValue } from '../format-commit.js';

const USAGE = 'ots --repo=PATH remote (add [--sysroot=PATH] [--no-gpg-verify] [--gpg-import=FILE] [--sign-verify=ed25519=inline:KEY] [--if-not-exists | --force] [--contenturl=URL] [--collection-id=ID] [--set=K=V] NAME URL [BRANCH...] | delete NAME | list [-u] | show-url NAME | refs NAME | summary NAME | gpg-import NAME -k FILE)';

export const remote: Command = async (ctx, argv) => {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'add': return add(ctx, rest);
    case 'delete': return del(ctx, rest);
    case 'list': return list(ctx, rest);
    case 'show-url': return showUrl(ctx, rest);
    case 'refs': case 'summary': return summary(ctx, rest, sub);
    case 'gpg-import': return gpgImport(ctx, rest);
    default: throw new OtError('ERR_INVALID_ARGUMENT', `Unknown remote subcommand '${sub ?? ''}'`, { hint: `usage: ${USAGE}` });
  }
};

async function add(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    'no-gpg-verify': { type: 'boolean' }, 'if-not-exists': { type: 'boolean' }, force: { type: 'boolean' }, set: { type: 'string', multiple: true },
    'gpg-import': { type: 'string', multiple: true }, 'sign-verify': { type: 'string', multiple: true },
    contenturl: { type: 'string' }, 'collection-id': { type: 'string' }, sysroot: { type: 'string' },
  }, USAGE);
  needArgs(positionals, 2, USAGE);
  const [name, url, ...branches] = positionals as [string, string, ...string[]];
  validateRemoteName(name);
  // --sysroot=PATH names the system repo PATH/ostree/repo, as in ostree (it overrides --repo).
  const repo = await openRepo(ctx, values.sysroot !== undefined ? join(values.sysroot, 'ostree/repo') : values.repo);
  const g = remoteGroup(name);
  if (repo.config.hasGroup(g)) {
    if (values['if-not-exists']) return 0;
    if (!values.force) throw new OtError('ERR_CONFLICT', `Remote ${name} already exists`, { hint: 'use --if-not-exists or --force, or delete it first' });
    repo.config.removeGroup(g);
  }
  repo.config.set(g, 'url', url);
  if (values.contenturl !== undefined) repo.config.set(g, 'contenturl', values.contenturl);
  if (values['collection-id'] !== undefined) repo.config.set(g, 'collection-id', values['collection-id']);
  if (branches.length > 0) repo.config.set(g, 'branches', `${branches.join(';')};`);
  if (values['no-gpg-verify']) repo.config.set(g, 'gpg-verify', 'false');
  for (const kv of values.set ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new OtError('ERR_INVALID_ARGUMENT', `--set needs KEY=VALUE, got ${kv}`);
    repo.config.set(g, kv.slice(0, i), kv.slice(i + 1));
  }
  for (const sv of values['sign-verify'] ?? []) {
    // ostree's form: ed25519=inline:KEY or ed25519=file:PATH
    const m = /^ed25519=(inline|file):(.+)$/.exec(sv);
    if (!m) throw new OtError('ERR_INVALID_ARGUMENT', `--sign-verify needs ed25519=inline:KEY or ed25519=file:PATH, got ${sv}`);
    repo.config.set(g, 'sign-verify', 'true');
    repo.config.set(g, m[1] === 'inline' ? 'verification-ed25519-key' : 'verification-ed25519-file', m[2] as string);
  }
  await repo.writeConfig();
  for (const f of values['gpg-import'] ?? []) await importKeys(repo.path, name, [f]);
  return 0;
}

async function gpgImport(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, { keyring: { type: 'string', short: 'k', multiple: true } }, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const name = positionals[0] as string;
  readRemote(repo.config, name);
  const n = await importKeys(repo.path, name, [...(values.keyring ?? []), ...positionals.slice(1)]);
  ctx.io.out(`Imported ${n} GPG key${n === 1 ? '' : 's'} to remote "${name}"`);
  return 0;
}

/** Merge the public keys in `files` into REPO/NAME.trustedkeys.gpg (a binary keyring, as ostree writes it). */
async function importKeys(repoPath: string, name: string, files: string[]): Promise<number> {
  if (files.length === 0) throw new OtError('ERR_INVALID_ARGUMENT', 'No key files given', { hint: 'pass -k KEYFILE' });
  const ring = join(repoPath, `${name}.trustedkeys.gpg`);
  let existing: GpgPublicKey[] = [];
  try { existing = await readGpgPublicKeys(new Uint8Array(await readFile(ring))); } catch { existing = []; }
  const seen = new Set(existing.map((k) => k.getFingerprint()));
  let added = 0;
  const all = [...existing];
  for (const f of files) {
    for (const k of await readGpgPublicKeys(new Uint8Array(await readFile(f)))) {
      if (seen.has(k.getFingerprint())) continue;
      seen.add(k.getFingerprint());
      all.push(k.toPublic());
      added++;
    }
  }
  await writeFileAtomic(ring, Buffer.concat(all.map((k) => Buffer.from(k.toPublic().write()))));
  return added;
}

async function del(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, { 'if-exists': { type: 'boolean' } }, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const name = positionals[0] as string;
  if (!repo.config.removeGroup(remoteGroup(name))) {
    if (values['if-exists']) return 0;
    throw new OtError('ERR_INVALID_ARGUMENT', `Remote "${name}" not found`);
  }
  await repo.writeConfig();
  return 0;
}

async function list(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, { 'show-urls': { type: 'boolean', short: 'u' } }, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const configs = await remoteConfigs(repo.path, repo.config);
  const names = listRemotes(configs);
  if (values.json) { ctx.io.out(JSON.stringify(names.map((n) => readRemote(configs, n)))); return 0; }
  for (const n of names) ctx.io.out(values['show-urls'] ? `${n.padEnd(14)} ${readRemote(configs, n).url}` : n);
  return 0;
}

async function showUrl(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {}, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  ctx.io.out(readRemote(await remoteConfigs(repo.path, repo.config), positionals[0] as string).url);
  return 0;
}

async function summary(ctx: CommandContext, argv: string[], sub: 'refs' | 'summary'): Promise<number> {
  const { values, positionals } = parseCommand(argv, {}, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const r = readRemote(await remoteConfigs(repo.path, repo.config), positionals[0] as string);
  const fetcher = new Fetcher(r.url, { connections: 1, retries: 3, stallTimeoutMs: 30_000 });
  try {
    const res = await fetcher.fetchBytes('summary', { maxSize: 10 * 1024 * 1024 });
    const s = decodeSummary(res.body ?? new Uint8Array(0));
    if (sub === 'refs') {
      if (values.json) ctx.io.out(JSON.stringify(s.refs.map((x) => ({ name: x.name, checksum: x.checksum }))));
      else for (const x of s.refs) ctx.io.out(`${r.name}:${x.name}`);
    } else {
      ctx.io.out(JSON.stringify({
        refs: s.refs.map((x) => ({ name: x.name, checksum: x.checksum, commitSize: Number(x.commitSize) })),
        metadata: Object.fromEntries(s.metadata.map(([k, v]) => [k, jsonValue(v)])),
      }, null, values.json ? undefined : 2));
    }
  } finally {
    await fetcher.close();
  }
  return 0;
}
