// The single error type of ostree-ts: a stable `code` plus the fields that say
// what failed (object, path, offset, expected/found) and what to do next.

/**
 * Stable error codes. A retired code is never reused.
 *
 * | code | meaning |
 * |---|---|
 * | ERR_CHECKSUM_MISMATCH | bytes do not hash to the name they were stored or fetched under |
 * | ERR_SIZE_MISMATCH | a declared length disagrees with the data |
 * | ERR_TOO_LARGE | input exceeds a configured limit |
 * | ERR_NOT_NORMAL_FORM | GVariant bytes are well-formed but not in normal form |
 * | ERR_BAD_FORMAT | malformed or truncated data (see `offset`) |
 * | ERR_UNSAFE_PATH | a name or path would escape its root, or is not a valid file name |
 * | ERR_OBJECT_NOT_FOUND | a needed object is missing from the repository |
 * | ERR_REF_NOT_FOUND | a ref or revision does not resolve |
 * | ERR_SIGNATURE_INVALID / ERR_SIGNATURE_MISSING | verification failed / nothing to verify |
 * | ERR_HTTP / ERR_NETWORK | a remote answered with an error status / could not be reached |
 * | ERR_UNAUTHORIZED / ERR_FORBIDDEN | write without credentials / without permission |
 * | ERR_CONFLICT | the state changed under us (e.g. a ref compare-and-swap) |
 * | ERR_LOCKED | another process holds the repository lock |
 * | ERR_UNSUPPORTED | a feature or mode this build does not implement |
 * | ERR_INVALID_ARGUMENT | a caller passed a value that can never be valid |
 * | ERR_IO | an operating-system call failed (see `cause`) |
 */
export type ErrorCode =
  | 'ERR_CHECKSUM_MISMATCH'
  | 'ERR_SIZE_MISMATCH'
  | 'ERR_TOO_LARGE'
  | 'ERR_NOT_NORMAL_FORM'
  | 'ERR_BAD_FORMAT'
  | 'ERR_UNSAFE_PATH'
  | 'ERR_OBJECT_NOT_FOUND'
  | 'ERR_REF_NOT_FOUND'
  | 'ERR_SIGNATURE_INVALID'
  | 'ERR_SIGNATURE_MISSING'
  | 'ERR_HTTP'
  | 'ERR_NETWORK'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_FORBIDDEN'
  | 'ERR_CONFLICT'
  | 'ERR_LOCKED'
  | 'ERR_UNSUPPORTED'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_IO';

/** Optional context carried by an {@link OtError}. */
export interface OtErrorFields {
  checksum?: string;
  objectType?: string;
  path?: string;
  offset?: number;
  url?: string;
  expected?: string | number | bigint;
  found?: string | number | bigint;
  hint?: string;
  cause?: unknown;
}

/** The one error class. Match on `code` and the fields, never on the message. */
export class OtError extends Error {
  readonly code: ErrorCode;
  readonly checksum?: string;
  readonly objectType?: string;
  readonly path?: string;
  readonly offset?: number;
  readonly url?: string;
  readonly expected?: string | number | bigint;
  readonly found?: string | number | bigint;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, fields: OtErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = 'OtError';
    this.code = code;
    this.checksum = fields.checksum;
    this.objectType = fields.objectType;
    this.path = fields.path;
    this.offset = fields.offset;
    this.url = fields.url;
    this.expected = fields.expected;
    this.found = fields.found;
    this.hint = fields.hint;
  }
}

/** True when `err` is an {@link OtError}, optionally with the given code. */
export function isOtError(err: unknown, code?: ErrorCode): err is OtError {
  return err instanceof OtError && (code === undefined || err.code === code);
}

/** True when `err` is a Node system error with the given errno code (ENOENT, EEXIST…). */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/**
 * Re-throw `err` as an OtError with more context. OtErrors keep their code and
 * gain a message prefix; anything else becomes `fallback` with the cause kept.
 */
export function prefixError(err: unknown, prefix: string, fallback: ErrorCode = 'ERR_IO'): OtError {
  if (err instanceof OtError) {
    return new OtError(err.code, `${prefix}: ${err.message}`, { ...fieldsOf(err), cause: err });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new OtError(fallback, `${prefix}: ${msg}`, { cause: err });
}

function fieldsOf(err: OtError): OtErrorFields {
  return {
    checksum: err.checksum, objectType: err.objectType, path: err.path, offset: err.offset,
    url: err.url, expected: err.expected, found: err.found, hint: err.hint,
  };
}
