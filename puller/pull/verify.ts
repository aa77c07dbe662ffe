// Verify fetched objects before anything is stored: checksum first, then
// structure (like ostree-repo-pull-verify.c / _ostree_verify_metadata_object).
import { promisify } from 'node:util';
import { inflateRaw, inflateRawSync, type ZlibOptions } from 'node:zlib';
import { OtError, prefixError } from '../../shared/errors.js';
import { decode } from '../../shared/gvariant/index.js';
import {
  checksumOf, decodeArchiveHeader, decodeCommit, decodeDirmeta, decodeDirtree, encodeFileHeader,
  type Checksum, type Commit, type Dirtree, type FileHeader, type ObjectType,
} from '../../shared/objects/index.js';
import type { Transaction } from '../../shared/repo/index.js';

const inflateRawInfo = promisify(inflateRaw as unknown as (buf: Uint8Array, opts: ZlibOptions & { info: true }, cb: (err: Error | null, res: { buffer: Buffer; engine: { bytesWritten: number } }) => void) => void);

/** Throw ERR_CHECKSUM_MISMATCH naming the object and URL unless `actual === expected`. */
function checkSum(type: ObjectType, expected: Checksum, actual: string, url: string): void {
  if (actual !== expected) {
    throw new OtError('ERR_CHECKSUM_MISMATCH', `Corrupted ${type} object; checksum expected='${expected}' actual='${actual}' (from ${url})`, {
      checksum: expected, objectType: type, expected, found: actual, url, hint: 'the server copy is corrupt: run ostree fsck there',
    });
  }
}

/** Verify a metadata object's bytes; returns the decoded commit/dirtree (or null for dirmeta/commitmeta). */
export function verifyMetadata(type: ObjectType, csum: Checksum, bytes: Uint8Array, url: string): Commit | Dirtree | null {
  try {
    if (type === 'commitmeta') { decode('a{sv}', bytes); return null; }
    checkSum(type, csum, checksumOf(bytes), url);
    if (type === 'commit') return decodeCommit(bytes);
    if (type === 'dirtree') return decodeDirtree(bytes);
    if (type === 'dirmeta') { decodeDirmeta(bytes); return null; }
    throw new OtError('ERR_UNSUPPORTED', `Unexpected object type ${type}`);
  } catch (err: unknown) {
    if (err instanceof OtError && err.code === 'ERR_CHECKSUM_MISMATCH') throw err;
    const e = prefixError(err, `Invalid ${type} object ${csum} (from ${url})`, 'ERR_BAD_FORMAT');
    throw new OtError(e.code, e.message, { checksum: csum, objectType: type, url, cause: err });
  }
}

/** A verified archive content object. */
export interface VerifiedContent { header: FileHeader; payload: Uint8Array }

/** Small payloads are inflated on the main thread; larger ones in the thread pool. */
const SYNC_INFLATE_LIMIT = 64 * 1024;

/**
 * Verify a `.filez` as served: header in normal form, the deflate stream
 * inflates to exactly the declared size with no trailing bytes, and the
 * canonical stream hashes to `csum`.
 */
export async function verifyArchiveContent(csum: Checksum, bytes: Uint8Array, url: string): Promise<VerifiedContent> {
  let header: FileHeader;
  let payload: Uint8Array;
  try {
    const parsed = decodeArchiveHeader(bytes);
    header = parsed.header;
    const size = Number(parsed.size ?? 0n);
    const compressed = bytes.subarray(parsed.payloadOffset);
    if (size === 0 && compressed.length === 0) payload = new Uint8Array(0);
    else {
      const opts = { info: true as const, maxOutputLength: size + 1 };
      const res = size <= SYNC_INFLATE_LIMIT
        ? (inflateRawSync(compressed, opts) as unknown as { buffer: Buffer; engine: { bytesWritten: number } })
        : await inflateRawInfo(compressed, opts);
      if (res.buffer.length !== size) {
        throw new OtError('ERR_SIZE_MISMATCH', `Unexpected EOF with ${size - res.buffer.length}/${size} bytes remaining`, { expected: size, found: res.buffer.length });
      }
      if (res.engine.bytesWritten !== compressed.length) {
        throw new OtError('ERR_BAD_FORMAT', `Trailing data after the compressed payload (${compressed.length - res.engine.bytesWritten} bytes)`);
      }
      payload = new Uint8Array(res.buffer.buffer, res.buffer.byteOffset, res.buffer.length);
    }
  } catch (err: unknown) {
    const e = prefixError(err, `Writing content object ${csum} (from ${url})`, 'ERR_BAD_FORMAT');
    throw new OtError(e.code, e.message, { checksum: csum, objectType: 'file', url, cause: err });
  }
  checkSum('file', csum, checksumOf(encodeFileHeader(header), payload), url);
  return { header, payload };
}

/**
 * Verify and stage a `.filez` as served in one native job (inflate, size,
 * trailing data and checksum off the main thread; see
 * Transaction.writeArchiveContentVerified), with the same errors as
 * verifyArchiveContent. false when the native helper cannot: then use
 * verifyArchiveContent and write the result.
 */
export async function stageVerifiedArchiveContent(tx: Transaction, csum: Checksum, bytes: Uint8Array, url: string): Promise<boolean> {
  const wrap = (err: unknown): OtError => {
    const e = prefixError(err, `Writing content object ${csum} (from ${url})`, 'ERR_BAD_FORMAT');
    return new OtError(e.code, e.message, { checksum: csum, objectType: 'file', url, cause: err });
  };
  let parsed: ReturnType<typeof decodeArchiveHeader>;
  let headerBytes: Uint8Array;
  try {
    parsed = decodeArchiveHeader(bytes);
    headerBytes = encodeFileHeader(parsed.header);
  } catch (err: unknown) {
    throw wrap(err);
  }
  const size = Number(parsed.size ?? 0n);
  try {
    return await tx.writeArchiveContentVerified(csum, bytes, parsed.header, headerBytes, parsed.payloadOffset, size);
  } catch (err: unknown) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_CHECKSUM_MISMATCH') checkSum('file', csum, String((err as { actual?: unknown }).actual), url);
    if (code === 'ERR_SIZE_MISMATCH') {
      const produced = Number((err as { produced?: unknown }).produced);
      throw wrap(produced > size
        ? new OtError('ERR_SIZE_MISMATCH', `Payload is larger than the declared ${size} bytes`, { expected: size })
        : new OtError('ERR_SIZE_MISMATCH', `Unexpected EOF with ${size - produced}/${size} bytes remaining`, { expected: size, found: produced }));
    }
    if (code === 'ERR_BAD_FORMAT') throw wrap(new OtError('ERR_BAD_FORMAT', `Invalid compressed payload: ${(err as Error).message}`));
    throw err;
  }
}
