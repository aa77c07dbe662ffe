// Remotes as ostree stores them: `[remote "NAME"]` groups in the repo config
// (repo-layout.md §5–§6).
import { OtError } from '../errors.js';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyFile } from './keyfile.js';
import { validateRemoteName } from './refs.js';

export interface RemoteConfig {
  name: string;
  url: string;
  /** Verify GPG signatures on commits (default true, as in ostree). */
  gpgVerify: boolean;
  gpgVerifySummary: boolean;
  /** Default refs for a bare `pull REMOTE`. */
  branches: string[];
  /** Every key of the group, for options this build does not interpret. */
  options: Record<string, string>;
}

export function remoteGroup(name: string): string {
  return `remote "${name}"`;
}

/**
 * The remote's configuration, from the first of `configs` that defines it
 * (the repo config, then /etc/ostree/remotes.d/*.conf for a system repo).
 * Throws ERR_INVALID_ARGUMENT when it does not exist.
 */
export function readRemote(configs: KeyFile | readonly KeyFile[], name: string): RemoteConfig {
  validateRemoteName(name);
  const g = remoteGroup(name);
  const list: readonly KeyFile[] = configs instanceof KeyFile ? [configs] : configs;
  const config = list.find((c) => c.get(g, 'url') !== undefined);
  const url = config?.get(g, 'url');
  if (config === undefined || url === undefined) {
    throw new OtError('ERR_INVALID_ARGUMENT', `Remote "${name}" not found`, { hint: `add it with: ots remote add ${name} URL` });
  }
  return {
    name, url,
    gpgVerify: config.getBoolean(g, 'gpg-verify', true),
    gpgVerifySummary: config.getBoolean(g, 'gpg-verify-summary', false),
    branches: config.getList(g, 'branches'),
    options: Object.fromEntries(config.entries(g)),
  };
}

/** Names of all configured remotes, in file order (first definition wins). */
export function listRemotes(configs: KeyFile | readonly KeyFile[]): string[] {
  const all: readonly KeyFile[] = configs instanceof KeyFile ? [configs] : configs;
  const names = all.flatMap((c) => c.groups().map((g) => /^remote "(.*)"$/.exec(g)?.[1]).filter((n): n is string => n !== undefined));
  return [...new Set(names)];
}

/**
 * The keyfiles remotes come from: the repo's config, plus — for a system repo
 * (SYSROOT/ostree/repo) with core.add-remotes-config-dir not false —
 * SYSROOT/etc/ostree/remotes.d/*.conf, as ostree reads them.
 */
export async function remoteConfigs(repoPath: string, config: KeyFile): Promise<KeyFile[]> {
  const out = [config];
  const m = /^(.*)\/ostree\/repo\/?$/.exec(repoPath);
  if (!m || !config.getBoolean('core', 'add-remotes-config-dir', true)) return out;
  const dir = join(m[1] === '' ? '/' : (m[1] as string), 'etc/ostree/remotes.d');
  let names: string[] = [];
  try { names = (await readdir(dir)).filter((n) => n.endsWith('.conf')).sort(); } catch { return out; }
  for (const n of names) out.push(KeyFile.parse(await readFile(join(dir, n), 'utf8')));
  return out;
}
