// The only retry policy: which failures are transient, and how long to wait
// (exponential backoff with full jitter, capped; Retry-After honoured).
import { OtError } from '../../shared/errors.js';

const RETRYABLE_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** HTTP statuses worth retrying. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * Whether `err` is transient. Checksum mismatches, 4xx answers, bad formats
 * and signature failures are never retried.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof OtError) {
    if (err.code === 'ERR_HTTP') return typeof err.found === 'number' && isRetryableStatus(err.found);
    if (err.code === 'ERR_NETWORK') return true;
    return false;
  }
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_CODES.has(code);
}

/** Delay before retry `attempt` (1-based): full jitter over min(cap, base·2^attempt), or Retry-After. */
export function backoffMs(attempt: number, retryAfter: string | undefined, random: () => number = Math.random): number {
  if (retryAfter !== undefined) {
    const secs = Number(retryAfter);
    if (Number.isFinite(secs) && secs >= 0) return Math.min(secs * 1000, 30_000);
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.min(Math.max(0, at - Date.now()), 30_000);
  }
  const ceiling = Math.min(5_000, 100 * 2 ** attempt);
  return Math.floor(random() * ceiling);
}
