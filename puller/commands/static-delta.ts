// ots static-delta generate|list|show|delete|indexes|reindex (ostree static-delta).
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError } from '../../shared/errors.js';
import { decodeSuperblock, type PartCompression } from '../../shared/delta/index.js';
import { deltaDir, parseChecksum, type Checksum } from '../../shared/objects/index.js';
import { applyOfflineDelta, generateDelta, listDeltas, writeDeltaIndexes } from '../../shared/repo/index.js';
import { nativeSys } from '../../shared/native/sys.js';
import { needArgs, openRepo, parseCommand, type Command, type CommandContext } from '../context.js';

const USAGE = 'ots --repo=PATH static-delta (generate [--from=REV | --empty] --to=REV [--inline] [--min-fallback-size=MB] [--max-chunk-size=MB] '
  + '[--disable-bsdiff] [--compression=xz|zstd|none] [--filename=FILE] | apply-offline FILE | list | show NAME | delete NAME | indexes | reindex)';

export const staticDelta: Command = async (ctx, argv) => {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'generate': return generate(ctx, rest);
    case 'list': return list(ctx, rest);
    case 'show': return show(ctx, rest);
    case 'delete': return del(ctx, rest);
    case 'indexes': return indexes(ctx, rest);
    case 'reindex': return reindex(ctx, rest);
    case 'apply-offline': return applyOffline(ctx, rest);
    default: throw new OtError('ERR_INVALID_ARGUMENT', `Unknown static-delta subcommand '${sub ?? ''}'`, { hint: `usage: ${USAGE}` });
  }
};

function parseName(name: string): { from: Checksum | null; to: Checksum } {
  const i = name.indexOf('-');
  return i === -1 ? { from: null, to: parseChecksum(name, 'delta name') } : { from: parseChecksum(name.slice(0, i), 'delta FROM'), to: parseChecksum(name.slice(i + 1), 'delta TO') };
}

async function generate(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, {
    from: { type: 'string' }, to: { type: 'string' }, empty: { type: 'boolean' }, inline: { type: 'boolean' },
    'min-fallback-size': { type: 'string' }, 'max-chunk-size': { type: 'string' }, 'max-bsdiff-size': { type: 'string' },
    'disable-bsdiff': { type: 'boolean' }, compression: { type: 'string' }, filename: { type: 'string' },
  }, USAGE);
  const repo = await openRepo(ctx, values.repo);
  if (!values.to) throw new OtError('ERR_INVALID_ARGUMENT', '--to=REV is required', { hint: `usage: ${USAGE}` });
  const to = await repo.resolveRev(values.to);
  const from = values.empty ? null : values.from !== undefined ? await repo.resolveRev(values.from) : await parentOf(repo, to);
  const compression = (values.compression ?? 'xz') as PartCompression;
  if (compression !== 'xz' && compression !== 'none' && compression !== 'zstd') throw new OtError('ERR_UNSUPPORTED', `--compression=${compression} is not supported`, { hint: 'use xz, zstd or none' });
  if (compression === 'none' && !values.inline) {
    ctx.io.err('warning: stock ostree (2022.7) cannot read non-inline uncompressed parts (it mmaps them at offset 1); add --inline for stock clients');
  }
  const mb = (v: string | undefined, d: number) => (v === undefined ? d : Math.floor(Number(v) * 1_000_000));
  // Parts, objects and suffix arrays come and go in blocks of megabytes: with
  // glibc's adaptive mmap threshold the freed ones stayed in the arenas (peak
  // RSS 163 MB instead of ~135 on the bench's v1->v2 delta, bench/delta.ts).
  nativeSys()?.mallocMmapThreshold(128 * 1024);
  const r = await generateDelta(repo, {
    from, to, inline: values.inline, compression, now: ctx.now(), filename: values.filename,
    minFallbackSize: mb(values['min-fallback-size'], 4_000_000), maxChunkSize: values['max-chunk-size'] === undefined ? undefined : mb(values['max-chunk-size'], 0),
    disableBsdiff: values['disable-bsdiff'] === true, maxBsdiffSize: mb(values['max-bsdiff-size'], 128_000_000),
  });
  if (values.json) ctx.io.out(JSON.stringify(r));
  else ctx.io.out(`Generated static delta ${from ? `${from}-` : ''}${to}: ${r.objects} objects in ${r.parts} part(s), ${r.fallbacks} fallback(s), ${r.bytes} bytes`);
  return 0;
}

async function parentOf(repo: Awaited<ReturnType<typeof openRepo>>, to: Checksum): Promise<Checksum> {
  const parent = (await repo.loadCommit(to)).parent;
  if (parent === null) throw new OtError('ERR_INVALID_ARGUMENT', `Commit ${to} has no parent`, { hint: 'pass --from=REV or --empty' });
  return parent;
}

async function list(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, {}, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const deltas = await listDeltas(repo);
  const zstd = await listDeltas(repo, 'deltas-zstd');
  if (values.json) ctx.io.out(JSON.stringify({ deltas, zstd }));
  else if (deltas.length + zstd.length === 0) ctx.io.out('(No static deltas)');
  else {
    for (const d of deltas) ctx.io.out(d.from ? `${d.from}-${d.to}` : d.to);
    for (const d of zstd) ctx.io.out(`${d.from ? `${d.from}-${d.to}` : d.to} (zstd)`);
  }
  return 0;
}

async function show(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {}, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const { from, to } = parseName(positionals[0] as string);
  const sb = decodeSuperblock(new Uint8Array(await readFile(join(repo.path, deltaDir(from, to), 'superblock'))));
  ctx.io.out(`Delta: ${positionals[0]}`);
  ctx.io.out(`Timestamp: ${new Date(Number(sb.timestamp) * 1000).toISOString()}`);
  ctx.io.out(`Number of parts: ${sb.parts.length}`);
  ctx.io.out(`Number of fallback entries: ${sb.fallbacks.length}`);
  sb.parts.forEach((p, i) => ctx.io.out(`PartMeta${i}: nobjects=${p.objects.length} size=${p.size} usize=${p.usize}`));
  return 0;
}

async function del(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {}, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const { from, to } = parseName(positionals[0] as string);
  await rm(join(repo.path, deltaDir(from, to)), { recursive: true, force: true });
  return 0;
}

async function indexes(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, {}, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const root = join(repo.path, 'delta-indexes');
  for (const p of (await readdir(root).catch(() => [] as string[])).sort()) {
    for (const f of (await readdir(join(root, p))).sort()) ctx.io.out(`${p}${f.replace(/\.index$/, '')}`);
  }
  return 0;
}

async function applyOffline(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {}, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const r = await applyOfflineDelta(repo, positionals[0] as string);
  if (values.json) ctx.io.out(JSON.stringify(r));
  else ctx.io.out(`Applied delta: commit ${r.commit} (${r.objects} objects)`);
  return 0;
}

async function reindex(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, {}, USAGE);
  const repo = await openRepo(ctx, values.repo);
  await writeDeltaIndexes(repo, await listDeltas(repo));
  return 0;
}
