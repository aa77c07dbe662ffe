// Which repository paths are served, and with which caching headers
// (http-pull.md; STYLE §8). Pure.

/** How a repo path is cached: immutable content-addressed files, or revalidated mutable ones. */
export type PathClass = 'object' | 'delta' | 'mutable';

export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const REVALIDATE = 'no-cache';

/**
 * Classify a decoded repo-relative path, or return null when it must not be
 * served: anything outside the OSTree URL space, dotfiles, '..', empty
 * segments, tmp/, state/, NUL or backslashes.
 */
export function classifyPath(rel: string): PathClass | null {
  if (rel.length === 0 || rel.length > 1024 || rel.includes('\0') || rel.includes('\\')) return null;
  const parts = rel.split('/');
  for (const p of parts) if (p === '' || p.startsWith('.')) return null;
  const top = parts[0];
  if (parts.length === 1) return top === 'config' || top === 'summary' || top === 'summary.sig' ? 'mutable' : null;
  switch (top) {
    case 'objects': return 'object';
    case 'deltas': case 'deltas-zstd': return 'delta';
    case 'refs': case 'delta-indexes': case 'summaries': return 'mutable';
    default: return null;
  }
}

/** Cache-Control for a class. */
export function cacheControl(cls: PathClass): string {
  return cls === 'mutable' ? REVALIDATE : IMMUTABLE;
}
