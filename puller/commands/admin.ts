// ots admin: init-fs, os-init, deploy, upgrade, status, undeploy,
// set-default, rollback, pin, cleanup — the deployment side of the agent,
// in ostree admin's vocabulary, on the layout stock ostree reads.
import { chmod, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError, isErrno } from '../../shared/errors.js';
import { Repo, lockFile, parseRefspec, readRemote, remoteConfigs, type RepoLock } from '../../shared/repo/index.js';
import { needArgs, parseCommand, type Command, type CommandContext } from '../context.js';
import { commitList, deploy, mergeDeployment, pruneSystemRepo } from '../deploy/deploy.js';
import { formatSize } from '../format-size.js';
import { Sysroot, isPinned, type Deployment } from '../deploy/sysroot.js';
import { cleanupSysroot } from '../deploy/write-deployments.js';

const USAGE = 'ots admin [--sysroot=PATH] (init-fs PATH | os-init OSNAME | deploy [--os=OS] [--karg=K=V...] [--karg-proc-cmdline] [--retain] [--not-as-default] [--no-prune] REFSPEC|COMMIT | '
  + 'upgrade [--os=OS] [--pull-only|--deploy-only] | status [--json] | undeploy INDEX | set-default INDEX | rollback | pin [--unpin] INDEX | cleanup)';

const COMMON = { sysroot: { type: 'string' as const }, os: { type: 'string' as const } };

/** Sub-commands that change the sysroot take ostree's sysroot lock, as stock ostree admin does. */
const LOCKED = new Set(['os-init', 'deploy', 'upgrade', 'undeploy', 'set-default', 'pin', 'rollback', 'cleanup']);

export const admin: Command = async (ctx, argv) => {
  const [sub, ...rest] = argv;
  if (sub !== undefined && LOCKED.has(sub)) return withSysrootLock(ctx, sysrootArg(rest), () => dispatch(ctx, sub, rest));
  return dispatch(ctx, sub, rest);
};

/** --sysroot=PATH / --sysroot PATH among the arguments, else /. */
function sysrootArg(argv: string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a.startsWith('--sysroot=')) return a.slice('--sysroot='.length);
    if (a === '--sysroot' && i + 1 < argv.length) return argv[i + 1] as string;
  }
  return '/';
}

/**
 * Hold the sysroot lock — an exclusive OFD lock on SYSROOT/ostree/lock, the
 * one ostree takes — while `fn` runs, so ots and ostree never rewrite the
 * boot configuration at the same time. Waits as long as it takes, like ostree.
 */
async function withSysrootLock(ctx: CommandContext, sysroot: string, fn: () => Promise<number>): Promise<number> {
  let lock: RepoLock;
  try {
    lock = await lockFile(join(sysroot, 'ostree/lock'), 'exclusive', {
      timeoutSecs: -1, what: 'sysroot', hint: 'another ostree or ots admin command is running', onWait: () => ctx.io.err('Waiting for sysroot lock...'),
      unlinkOnRelease: true,
    });
  } catch (err: unknown) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return fn(); // not a sysroot: the command says so
    throw err;
  }
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

async function dispatch(ctx: CommandContext, sub: string | undefined, rest: string[]): Promise<number> {
  switch (sub) {
    case 'init-fs': return initFs(ctx, rest);
    case 'os-init': return osInit(ctx, rest);
    case 'deploy': return deployCmd(ctx, rest);
    case 'upgrade': return upgrade(ctx, rest);
    case 'status': return status(ctx, rest);
    case 'undeploy': case 'set-default': case 'pin': return editList(ctx, rest, sub);
    case 'rollback': return editList(ctx, ['1', ...rest], 'set-default');
    case 'cleanup': return cleanup(ctx, rest);
    default: throw new OtError('ERR_INVALID_ARGUMENT', `Unknown admin subcommand '${sub ?? ''}'`, { hint: `usage: ${USAGE}` });
  }
}

const isRoot = () => process.getuid?.() === 0;

async function initFs(ctx: CommandContext, argv: string[]): Promise<number> {
  const { positionals } = parseCommand(argv, COMMON, USAGE);
  needArgs(positionals, 1, USAGE);
  const root = positionals[0] as string;
  for (const d of ['boot', 'dev', 'home', 'ostree', 'proc', 'root', 'run', 'sys', 'tmp']) await mkdir(join(root, d), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  await Repo.create(join(root, 'ostree/repo'), isRoot() ? 'bare' : 'bare-user');
  return 0;
}

async function osInit(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMON, USAGE);
  needArgs(positionals, 1, USAGE);
  const sysroot = values.sysroot ?? '/';
  const os = positionals[0] as string;
  const v = join(sysroot, 'ostree/deploy', os, 'var');
  for (const d of ['lib', 'log', 'tmp']) await mkdir(join(v, d), { recursive: true });
  await mkdir(join(sysroot, 'ostree/deploy', os, 'deploy'), { recursive: true });
  await chmod(join(v, 'tmp'), 0o1777);
  for (const [name, target] of [['lock', '../run/lock'], ['run', '../run']] as const) await symlink(target, join(v, name)).catch(() => undefined);
  ctx.io.out(`ostree/deploy/${os} initialized as OSTree root`);
  return 0;
}

/** The OS to act on: --os, else the default deployment's, else the only stateroot. */
async function pickOs(sysroot: Sysroot, flag: string | undefined, list: Deployment[]): Promise<string> {
  if (flag) return flag;
  if (list[0]) return list[0].osname;
  const roots = await readdir(join(sysroot.path, 'ostree/deploy')).catch(() => [] as string[]);
  if (roots.length === 1) return roots[0] as string;
  throw new OtError('ERR_INVALID_ARGUMENT', 'No OS given', { hint: 'pass --os=OSNAME' });
}

function phaseReporter(ctx: CommandContext, json: boolean): (p: string) => void {
  const started = Date.now();
  return (p) => {
    if (json) ctx.io.out(JSON.stringify({ type: 'phase', phase: p, ms: Date.now() - started }));
    else if (ctx.io.isTTY) process.stderr.write(`\r${p}...\x1b[K`);
  };
}

async function deployCmd(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    ...COMMON, karg: { type: 'string', multiple: true }, 'karg-proc-cmdline': { type: 'boolean' },
    retain: { type: 'boolean' }, 'not-as-default': { type: 'boolean' }, 'no-prune': { type: 'boolean' },
  }, USAGE);
  needArgs(positionals, 1, USAGE);
  const sysroot = new Sysroot(values.sysroot ?? '/');
  const repo = await Repo.open(sysroot.repoPath);
  const list = await sysroot.loadDeployments();
  const os = await pickOs(sysroot, values.os, list);
  const spec = positionals[0] as string;
  const commit = await repo.resolveRev(spec);
  let kargs = values.karg;
  if (values['karg-proc-cmdline']) kargs = [...(await readFile('/proc/cmdline', 'utf8')).trim().split(/\s+/).filter((k) => !k.startsWith('ostree=')), ...(kargs ?? [])];
  const refspec = /^[0-9a-f]{64}$/.test(spec) ? (mergeDeployment(list, os)?.origin.get('origin', 'refspec') ?? spec) : spec;
  const r = await deploy(sysroot, {
    osname: os, refspec, commit, kargs, retain: values.retain, notAsDefault: values['not-as-default'], noPrune: values['no-prune'],
    onPhase: phaseReporter(ctx, values.json === true),
  });
  if (values.json) ctx.io.out(JSON.stringify({ type: 'result', deployment: `${r.deployment.csum}.${r.deployment.deployserial}`, etc: r.etc, count: r.list.length }));
  else {
    if (ctx.io.isTTY) process.stderr.write('\r\x1b[K');
    if (r.etc) ctx.io.out(`Copying /etc changes: ${r.etc.modified} modified, ${r.etc.removed} removed, ${r.etc.added} added`);
    ctx.io.out(`Deployed ${os} ${r.deployment.csum}.${r.deployment.deployserial}; ${r.list.length} deployment(s)`);
  }
  return 0;
}

async function upgrade(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, { ...COMMON, 'pull-only': { type: 'boolean' }, 'deploy-only': { type: 'boolean' } }, USAGE);
  const sysroot = new Sysroot(values.sysroot ?? '/');
  const repo = await Repo.open(sysroot.repoPath);
  const list = await sysroot.loadDeployments();
  const os = await pickOs(sysroot, values.os, list);
  const merge = mergeDeployment(list, os);
  const refspec = merge?.origin.get('origin', 'refspec');
  if (!merge || !refspec) throw new OtError('ERR_INVALID_ARGUMENT', `No deployment of ${os} with an origin refspec to upgrade`, { hint: 'deploy a refspec first' });
  const { remote, ref } = parseRefspec(refspec);
  if (!values['deploy-only'] && remote !== null) {
    const { pull: runPull } = await import('../pull/pull.js');
    const result = await runPull(repo, readRemote(await remoteConfigs(repo.path, repo.config), remote), [ref], {
      depth: 0, commitMetadataOnly: false, maxConcurrency: 16, retries: 5, stallTimeoutMs: 30_000, headers: {},
      globalGpgDir: ctx.env.OSTREE_GPG_HOME ?? '/usr/share/ostree/trusted.gpg.d',
    });
    if (!values.json) ctx.io.out(`${result.metadataFetched} metadata, ${result.contentFetched} content objects fetched`);
  }
  if (values['pull-only']) return 0;
  const commit = await repo.resolveRev(refspec.includes(':') ? refspec : ref);
  if (commit === merge.csum) { ctx.io.out('No update available.'); return 0; }
  const r = await deploy(sysroot, { osname: os, refspec, commit, onPhase: phaseReporter(ctx, values.json === true) });
  ctx.io.out(`Deployed ${os} ${r.deployment.csum}.${r.deployment.deployserial}`);
  return 0;
}

async function status(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, COMMON, USAGE);
  const sysroot = new Sysroot(values.sysroot ?? '/');
  const list = await sysroot.loadDeployments();
  if (values.json) {
    ctx.io.out(JSON.stringify(list.map((d, i) => ({
      index: i, osname: d.osname, checksum: d.csum, deployserial: d.deployserial, bootcsum: d.bootcsum, bootserial: d.bootserial,
      refspec: d.origin.get('origin', 'refspec') ?? null, pinned: isPinned(d), kargs: d.kargs, default: i === 0,
    }))));
    return 0;
  }
  if (list.length === 0) { ctx.io.out('No deployments.'); return 0; }
  const repo = await Repo.open(sysroot.repoPath).catch(() => null);
  for (const d of list) {
    // Like stock ostree: "(rollback)"/"*" only make sense relative to a booted deployment, which a
    // sysroot we are not booted from does not have.
    ctx.io.out(`  ${d.osname} ${d.csum}.${d.deployserial}`);
    const c = repo ? await repo.loadCommit(d.csum as never).catch(() => null) : null;
    const version = c?.metadata.find(([k]) => k === 'version')?.[1];
    if (version?.type === 's') ctx.io.out(`    Version: ${version.value as string}`);
    if (isPinned(d)) ctx.io.out('    Pinned: yes');
    const refspec = d.origin.get('origin', 'refspec');
    ctx.io.out(refspec ? `    origin refspec: ${refspec}` : '    origin: none');
  }
  return 0;
}

async function editList(ctx: CommandContext, argv: string[], op: 'undeploy' | 'set-default' | 'pin'): Promise<number> {
  const { values, positionals } = parseCommand(argv, { ...COMMON, unpin: { type: 'boolean' } }, USAGE);
  needArgs(positionals, 1, USAGE);
  const sysroot = new Sysroot(values.sysroot ?? '/');
  const repo = await Repo.open(sysroot.repoPath);
  const list = await sysroot.loadDeployments();
  const index = Number(positionals[0]);
  const d = list[index];
  if (!Number.isInteger(index) || d === undefined) {
    throw new OtError('ERR_INVALID_ARGUMENT', `Out of range deployment index ${positionals[0]}, must be < ${list.length}`, { hint: 'see ots admin status' });
  }
  if (op === 'pin') {
    if (values.unpin) d.origin.removeGroup('libostree-transient');
    else d.origin.set('libostree-transient', 'pinned', 'true');
    await writeFile(sysroot.originPath(d), d.origin.toString());
    ctx.io.out(`Deployment ${index} is now ${values.unpin ? 'unpinned' : 'pinned'}`);
    return 0;
  }
  const next = op === 'undeploy' ? list.filter((_, i) => i !== index) : [d, ...list.filter((_, i) => i !== index)];
  const { assignBootSerials } = await import('../deploy/deploy.js');
  assignBootSerials(next);
  await commitList(sysroot, repo, next);
  ctx.io.out(op === 'undeploy' ? `Deleted deployment ${d.csum}.${d.deployserial}` : `Default deployment is now ${d.csum}.${d.deployserial}`);
  return 0;
}

async function cleanup(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, COMMON, USAGE);
  const sysroot = new Sysroot(values.sysroot ?? '/');
  const r = await cleanupSysroot(sysroot);
  const pruned = await pruneSystemRepo(await Repo.open(sysroot.repoPath), await sysroot.loadDeployments());
  ctx.io.out(`Removed ${r.deployments} deployment(s), ${r.bootDirs} boot dir(s)`);
  if (pruned.pruned > 0) ctx.io.out(`Freed objects: ${formatSize(pruned.freedBytes)} (${pruned.pruned} objects)`);
  return 0;
}
