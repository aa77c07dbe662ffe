// A sysroot on disk and its deployment list, read back exactly as ostree
// reads it: /boot/loader → loader.B/entries/*.conf sorted by `version`
// descending, each `ostree=` karg resolved through its bootlink to
// /ostree/deploy/OS/deploy/CSUM.SERIAL (deployments.md §8).
import { readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError, isErrno } from '../../shared/errors.js';
import { KeyFile } from '../../shared/repo/index.js';
import { blsGet, compareVersions, parseBls, splitKargs } from './bls.js';

export interface Deployment {
  osname: string;
  csum: string;
  deployserial: number;
  bootcsum: string;
  bootserial: number;
  origin: KeyFile;
  /** Kernel arguments without ostree=. */
  kargs: string[];
}

const OSTREE_KARG = /^\/ostree\/boot\.([01])\/([^/]+)\/([0-9a-f]{64})\/(\d+)$/;

export class Sysroot {
  constructor(readonly path: string) {}

  get repoPath(): string {
    return join(this.path, 'ostree/repo');
  }

  deploymentDir(d: { osname: string; csum: string; deployserial: number }): string {
    return join(this.path, 'ostree/deploy', d.osname, 'deploy', `${d.csum}.${d.deployserial}`);
  }

  originPath(d: { osname: string; csum: string; deployserial: number }): string {
    return `${this.deploymentDir(d)}.origin`;
  }

  /** The current bootversion (0 when /boot/loader is missing). */
  async bootversion(): Promise<number> {
    try {
      const t = await readlink(join(this.path, 'boot/loader'));
      if (t === 'loader.1') return 1;
      if (t === 'loader.0') return 0;
      throw new OtError('ERR_BAD_FORMAT', `Unexpected /boot/loader target ${t}`);
    } catch (err: unknown) {
      if (isErrno(err, 'ENOENT')) return 0;
      throw err;
    }
  }

  /** The subbootversion of /ostree/boot.B (0 when missing). */
  async subbootversion(b: number): Promise<number> {
    try {
      return (await readlink(join(this.path, `ostree/boot.${b}`))) === `boot.${b}.1` ? 1 : 0;
    } catch (err: unknown) {
      if (isErrno(err, 'ENOENT')) return 0;
      throw err;
    }
  }

  /** The deployment list, index 0 = default. */
  async loadDeployments(): Promise<Deployment[]> {
    let entriesDir: string;
    try {
      await readlink(join(this.path, 'boot/loader'));
      entriesDir = join(this.path, 'boot/loader/entries');
    } catch (err: unknown) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    let names: string[];
    try { names = (await readdir(entriesDir)).filter((n) => n.startsWith('ostree-') && n.endsWith('.conf')); } catch { return []; }
    const entries = await Promise.all(names.map(async (n) => parseBls(await readFile(join(entriesDir, n), 'utf8'))));
    entries.sort((a, b) => compareVersions(blsGet(b, 'version') ?? '', blsGet(a, 'version') ?? ''));
    const out: Deployment[] = [];
    for (const e of entries) {
      const kargs = splitKargs(blsGet(e, 'options') ?? '');
      const ostreeArg = kargs.find((k) => k.startsWith('ostree='))?.slice(7) ?? '';
      const m = OSTREE_KARG.exec(ostreeArg);
      if (!m) throw new OtError('ERR_BAD_FORMAT', `Invalid ostree= karg '${ostreeArg}' in a BLS entry`);
      const link = await readlink(join(this.path, ostreeArg));
      const dm = /deploy\/([^/]+)\/deploy\/([0-9a-f]{64})\.(\d+)$/.exec(link);
      if (!dm) throw new OtError('ERR_BAD_FORMAT', `Bootlink ${ostreeArg} points to ${link}, not a deployment`);
      const d = { osname: dm[1] as string, csum: dm[2] as string, deployserial: Number(dm[3]) };
      let origin = KeyFile.empty();
      try { origin = KeyFile.parse(await readFile(this.originPath(d), 'utf8')); } catch { /* no origin */ }
      out.push({ ...d, bootcsum: m[3] as string, bootserial: Number(m[4]), origin, kargs: kargs.filter((k) => !k.startsWith('ostree=')) });
    }
    return out;
  }
}

/** Whether a deployment is pinned ([libostree-transient] pinned=true). */
export function isPinned(d: Deployment): boolean {
  return d.origin.getBoolean('libostree-transient', 'pinned', false);
}

/** Same deployment? */
export function sameDeployment(a: Deployment, b: Deployment): boolean {
  return a.osname === b.osname && a.csum === b.csum && a.deployserial === b.deployserial;
}
