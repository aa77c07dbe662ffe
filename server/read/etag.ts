// Validators for conditional requests: a strong ETag from size and mtime, and
// the HTTP-date of the mtime (RFC 9110 §8.8). Pure.

export function etagOf(size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

/** True when the request's validators say the client's copy is current (answer 304). */
export function isNotModified(headers: { 'if-none-match'?: string; 'if-modified-since'?: string }, etag: string, mtimeMs: number): boolean {
  const inm = headers['if-none-match'];
  if (inm !== undefined) return inm.split(',').some((t) => { const v = t.trim(); return v === etag || v === `W/${etag}` || v === '*'; });
  const ims = headers['if-modified-since'];
  if (ims !== undefined) {
    const t = Date.parse(ims);
    return !Number.isNaN(t) && Math.floor(mtimeMs / 1000) * 1000 <= t;
  }
  return false;
}
