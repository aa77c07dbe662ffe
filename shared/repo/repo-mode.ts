// Repository modes and their names in `config` (repo-layout.md §3–§4). Pure.
import { OtError } from '../errors.js';

export type RepoMode = 'archive' | 'bare' | 'bare-user' | 'bare-user-only';

/** Parse the `[core] mode` value; a missing key means bare, as in ostree. */
export function parseRepoMode(value: string | undefined): RepoMode {
  switch (value ?? 'bare') {
    case 'archive': case 'archive-z2': return 'archive';
    case 'bare': return 'bare';
    case 'bare-user': return 'bare-user';
    case 'bare-user-only': return 'bare-user-only';
    default: throw new OtError('ERR_UNSUPPORTED', `Unsupported repository mode '${value}'`, { hint: 'use archive, bare, bare-user or bare-user-only' });
  }
}

/** The value written to `config` for a mode. */
export function repoModeConfigName(mode: RepoMode): string {
  return mode === 'archive' ? 'archive-z2' : mode;
}
