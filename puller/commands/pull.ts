// ots pull [options] REMOTE [REF...|REF@COMMIT]: fetch commits from a remote
// (ostree pull). Progress bar on a TTY, JSON lines with --json.
import { OtError } from '../../shared/errors.js';
import { readRemote, remoteConfigs } from '../../shared/repo/index.js';
import { needArgs, openRepo, parseCommand, type Command } from '../context.js';
import { Progress } from '../progress.js';
import { pull as runPull, type PullEvent } from '../pull/pull.js';
import { formatSize } from '../format-size.js';

const USAGE = 'ots --repo=PATH pull [--mirror] [--depth=N] [--commit-metadata-only] [--disable-static-deltas] [--http-header=K=V] '
  + '[--network-retries=N] [--max-concurrency=N] [--json] REMOTE [REF...|REF@COMMIT]';

/** Default parallel requests: bench/pull.ts measured 16 fastest over loopback for a ~6k-object pull. */
const DEFAULT_CONCURRENCY = 16;

export const pull: Command = async (ctx, argv) => {
  const { values, positionals } = parseCommand(argv, {
    depth: { type: 'string' },
    'commit-metadata-only': { type: 'boolean' },
    'disable-static-deltas': { type: 'boolean' },
    'require-static-deltas': { type: 'boolean' },
    'http-header': { type: 'string', multiple: true },
    'network-retries': { type: 'string' },
    'max-concurrency': { type: 'string' },
    'stall-timeout': { type: 'string' },
    mirror: { type: 'boolean' },
  }, USAGE);
  needArgs(positionals, 1, USAGE);
  const repo = await openRepo(ctx, values.repo);
  const [remoteName, ...specs] = positionals as [string, ...string[]];
  const remote = readRemote(await remoteConfigs(repo.path, repo.config), remoteName);
  const headers: Record<string, string> = {};
  for (const kv of values['http-header'] ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new OtError('ERR_INVALID_ARGUMENT', `--http-header needs K=V, got ${kv}`);
    headers[kv.slice(0, i).toLowerCase()] = kv.slice(i + 1);
  }
  const progress = new Progress(ctx.io, 'Receiving objects');
  const onEvent = (e: PullEvent) => {
    if (values.json) ctx.io.out(JSON.stringify(e));
    else if (e.type === 'progress') progress.update(e.metadata + e.content, e.queued, `${(e.bytes / 1e6).toFixed(1)} MB`);
  };
  const result = await runPull(repo, remote, specs, {
    depth: intFlag(values.depth, 0, '--depth'),
    commitMetadataOnly: values['commit-metadata-only'] === true,
    maxConcurrency: Math.max(1, intFlag(values['max-concurrency'], DEFAULT_CONCURRENCY, '--max-concurrency')),
    retries: Math.max(0, intFlag(values['network-retries'], 5, '--network-retries')),
    stallTimeoutMs: 1000 * Math.max(1, intFlag(values['stall-timeout'], 30, '--stall-timeout')),
    headers,
    onEvent,
    disableStaticDeltas: values['disable-static-deltas'] === true,
    mirror: values.mirror === true,
    requireStaticDeltas: values['require-static-deltas'] === true,
    globalGpgDir: ctx.env.OSTREE_GPG_HOME ?? '/usr/share/ostree/trusted.gpg.d',
  });
  progress.done();
  if (values.json) {
    ctx.io.out(JSON.stringify({ type: 'result', ...result }));
  } else {
    ctx.io.out(`${result.metadataFetched} metadata, ${result.contentFetched} content objects fetched; `
      + `${formatSize(result.bytes)} transferred in ${result.seconds.toFixed(1)} seconds`);
  }
  return 0;
};

function intFlag(v: string | undefined, fallback: number, flag: string): number {
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v)) throw new OtError('ERR_INVALID_ARGUMENT', `${flag} needs an integer, got '${v}'`);
  return Number(v);
}
