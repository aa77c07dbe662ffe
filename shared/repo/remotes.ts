// Remotes as ostree stores them: `[remote "NAME"]` groups in the repo config
// (repo-layout.md §5–§6).
import { OtError } from '../errors.js';
import type { KeyFile } from './keyfile.js';
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

/** The remote's configuration. Throws ERR_INVALID_ARGUMENT when it does not exist. */
export function readRemote(config: KeyFile, name: string): RemoteConfig {
  validateRemoteName(name);
  const g = remoteGroup(name);
  const url = config.get(g, 'url');
  if (url === undefined) {
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

/** Names of all configured remotes, in file order. */
export function listRemotes(config: KeyFile): string[] {
  return config.groups().map((g) => /^remote "(.*)"$/.exec(g)?.[1]).filter((n): n is string => n !== undefined);
}
