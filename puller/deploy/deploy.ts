// ots admin deploy: check a commit out as a new deployment (hardlinks from
// the bare system repo), give it /etc (copy of /usr/etc + three-way merge with
// the merge deployment), write its origin, then make the new list current
// with writeDeployments. Nothing visible changes before the /boot/loader swap.
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError, isErrno } from '../../shared/errors.js';
import type { Checksum } from '../../shared/objects/index.js';
import { KeyFile, Repo, checkoutCommit, faultPoint, pruneRepo, startWriteback, type PruneResult, type RefUpdate } from '../../shared/repo/index.js';
import { copyEntry, mergeEtc, type EtcMergeStats } from './etc-merge.js';
import { findKernel } from './kernel.js';
import { isPinned, sameDeployment, type Deployment, type Sysroot } from './sysroot.js';
import { cleanupSysroot, writeDeployments, type DeployPhase } from './write-deployments.js';

export interface DeployOptions {
  osname: string;
  /** What the origin records: `remote:ref`, a ref, or a checksum. */
  refspec: string;
  commit: string;
  /** Replace the kernel arguments (else inherit the merge deployment's). */
  kargs?: string[];
  retain?: boolean;
  notAsDefault?: boolean;
  /** Skip the repository prune that ends a deploy (ostree admin deploy --no-prune). */
  noPrune?: boolean;
  onPhase?: (p: DeployPhase | 'checkout' | 'etc') => void;
}

export interface DeployResult { deployment: Deployment; etc: EtcMergeStats | null; list: Deployment[] }

/** The deployment whose /etc and kargs carry over: the current default of this OS. */
export function mergeDeployment(list: Deployment[], osname: string): Deployment | undefined {
  return list.find((d) => d.osname === osname);
}

async function nextDeploySerial(sysroot: Sysroot, osname: string, csum: string): Promise<number> {
  let max = -1;
  for (const n of await readdir(join(sysroot.path, 'ostree/deploy', osname, 'deploy')).catch(() => [] as string[])) {
    const m = /^([0-9a-f]{64})\.(\d+)$/.exec(n);
    if (m && m[1] === csum) max = Math.max(max, Number(m[2]));
  }
  return max + 1;
}

async function has(p: string): Promise<boolean> {
  try { await readdir(p); return true; } catch (err: unknown) { return !isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR'); }
}

/** Deploy `opts.commit` (already in the sysroot repo) for `opts.osname`. */
export async function deploy(sysroot: Sysroot, opts: DeployOptions): Promise<DeployResult> {
  const phase = opts.onPhase ?? (() => undefined);
  const repo = await Repo.open(sysroot.repoPath);
  if (!(await has(join(sysroot.path, 'ostree/deploy', opts.osname, 'var')))) {
    throw new OtError('ERR_INVALID_ARGUMENT', `No stateroot ${opts.osname} in ${sysroot.path}`, { hint: `run: ots admin os-init --sysroot=${sysroot.path} ${opts.osname}` });
  }
  const old = await sysroot.loadDeployments();
  const merge = mergeDeployment(old, opts.osname);
  const d: Deployment = {
    osname: opts.osname, csum: opts.commit, deployserial: await nextDeploySerial(sysroot, opts.osname, opts.commit),
    bootcsum: '', bootserial: 0, origin: KeyFile.empty(), kargs: opts.kargs ?? merge?.kargs ?? [],
  };
  d.origin.set('origin', 'refspec', opts.refspec);
  const dir = sysroot.deploymentDir(d);
  await mkdir(join(sysroot.path, 'ostree/deploy', opts.osname, 'deploy'), { recursive: true });
  // Check out under a temporary name, so a crash never leaves a half tree under a deployment name.
  const staging = `${dir}.partial`;
  await rm(staging, { recursive: true, force: true });
  phase('checkout');
  await checkoutCommit(repo, opts.commit as never, staging, { hardlink: repo.mode !== 'archive' && repo.mode !== 'bare-user' });
  faultPoint('deploy-after-checkout');
  // The tree's metadata goes to disk while /etc is copied and merged (CPU work):
  // the sync before the swap then waits for much less (bench/deploy.ts).
  const writeback = startWriteback(staging);
  phase('etc');
  const etc = await prepareEtc(staging, merge ? sysroot.deploymentDir(merge) : null);
  faultPoint('deploy-after-etc');
  d.bootcsum = (await findKernel(staging)).bootcsum;
  // The stamp stock ostree leaves after its (first) /var relabel; kept for layout parity.
  await writeFile(join(sysroot.path, 'ostree/deploy', opts.osname, 'var/.ostree-selabeled'), '', { flag: 'a' });
  // No sync here: nothing points at the deployment until writeDeployments has
  // synced the sysroot, and an unreferenced deployment dir is removed by cleanup.
  await rename(staging, dir);
  await writeFile(sysroot.originPath(d), d.origin.toString());
  faultPoint('deploy-after-origin');
  await writeback;

  let list: Deployment[];
  const keep = (x: Deployment) => opts.retain || isPinned(x) || x.osname !== opts.osname || (merge !== undefined && sameDeployment(x, merge));
  const kept = old.filter(keep);
  if (opts.notAsDefault && merge) {
    const at = kept.findIndex((x) => sameDeployment(x, merge));
    list = [...kept.slice(0, at + 1), d, ...kept.slice(at + 1)];
  } else {
    list = [d, ...kept];
  }
  assignBootSerials(list);
  await commitList(sysroot, repo, list, phase, { prune: opts.noPrune !== true });
  return { deployment: d, etc, list };
}

/** bootserial = number of earlier deployments in the list with the same bootcsum. */
export function assignBootSerials(list: Deployment[]): void {
  const seen = new Map<string, number>();
  for (const d of list) {
    const n = seen.get(d.bootcsum) ?? 0;
    d.bootserial = n;
    seen.set(d.bootcsum, n + 1);
  }
}

/** Write the list (the atomic swap), then GC refs and cleanup, pruning the repo as ostree does after a deploy. */
export async function commitList(sysroot: Sysroot, repo: Repo, list: Deployment[], phase: (p: DeployPhase) => void = () => undefined, opts: { prune: boolean } = { prune: true }): Promise<void> {
  const b = await writeDeployments(sysroot, list, phase);
  const s = await sysroot.subbootversion(b);
  phase('cleanup');
  await writeGcRefs(repo, list, b, s);
  await cleanupSysroot(sysroot);
  if (opts.prune) await pruneSystemRepo(repo, list);
}

/**
 * Prune the system repository as ostree's sysroot cleanup does: roots are the
 * refs and the deployments, no parents (depth 0), under the exclusive repo lock.
 */
export function pruneSystemRepo(repo: Repo, list: readonly Deployment[]): Promise<PruneResult> {
  return pruneRepo(repo, { refsOnly: true, depth: 0, extraCommits: list.map((d) => d.csum as Checksum) });
}

/** /etc: rename a lone /etc to /usr/etc, copy /usr/etc to /etc, merge local changes of `mergeDir`. */
async function prepareEtc(dir: string, mergeDir: string | null): Promise<EtcMergeStats | null> {
  const hasEtc = await has(join(dir, 'etc'));
  const hasUsrEtc = await has(join(dir, 'usr/etc'));
  if (hasEtc && hasUsrEtc) throw new OtError('ERR_BAD_FORMAT', 'Tree contains both /etc and /usr/etc', { hint: 'ship configuration defaults in /usr/etc only' });
  if (hasEtc) await rename(join(dir, 'etc'), join(dir, 'usr/etc'));
  if (!hasEtc && !hasUsrEtc) return null;
  await copyEntry(join(dir, 'usr/etc'), join(dir, 'etc'));
  await rm(join(dir, 'etc/.updated'), { force: true });
  await rm(join(dir, 'var/.updated'), { force: true });
  if (mergeDir === null || !(await has(join(mergeDir, 'usr/etc')))) return null;
  return mergeEtc(join(mergeDir, 'usr/etc'), join(mergeDir, 'etc'), join(dir, 'etc'));
}

/** Refs ostree/B/S/I keep deployed commits from being pruned; regenerated on every write. */
async function writeGcRefs(repo: Repo, list: Deployment[], b: number, s: number): Promise<void> {
  const updates: RefUpdate[] = list.map((d, i) => ({ name: `ostree/${b}/${s}/${i}`, checksum: d.csum as never }));
  const keep = new Set(updates.map((u) => u.name));
  for (const u of updates) await repo.writeRef(u.name, u.checksum);
  for (const r of await repo.listRefs()) if (r.remote === null && r.name.startsWith('ostree/') && !keep.has(r.name)) await repo.writeRef(r.name, null);
  await rm(join(repo.path, 'refs/heads/ostree', String(1 - b)), { recursive: true, force: true });
}

/** Read a file or return undefined. */
export async function readOptional(p: string): Promise<string | undefined> {
  try { return await readFile(p, 'utf8'); } catch { return undefined; }
}
