// Raw deflate for .filez payloads (repo-layout.md §3): node:zlib, async so
// large files use the libuv thread pool on both cores.
import { promisify } from 'node:util';
import { deflateRaw, inflateRaw } from 'node:zlib';
import { OtError } from '../errors.js';

const deflateRawAsync = promisify(deflateRaw);
const inflateRawAsync = promisify(inflateRaw);

/** Compress a payload as ostree does (raw deflate, level 6 unless configured). */
export async function deflatePayload(payload: Uint8Array, level = 6): Promise<Uint8Array> {
  return new Uint8Array(await deflateRawAsync(payload, { level }));
}

/**
 * Inflate a payload and check it has exactly `size` bytes. Output is capped at
 * `size` so a hostile stream cannot balloon (ERR_SIZE_MISMATCH otherwise).
 */
export async function inflatePayload(compressed: Uint8Array, size: bigint): Promise<Uint8Array> {
  if (size === 0n && compressed.length === 0) return new Uint8Array(0);
  if (size > BigInt(2 ** 31)) throw new OtError('ERR_TOO_LARGE', `Payload of ${size} bytes is too large to read into memory`);
  let out: Buffer;
  try {
    out = await inflateRawAsync(compressed, { maxOutputLength: Math.max(1, Number(size) + 1) });
  } catch (err: unknown) {
    throw new OtError('ERR_BAD_FORMAT', `Corrupted archive payload: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (BigInt(out.length) !== size) {
    throw new OtError('ERR_SIZE_MISMATCH', `Unexpected EOF: payload has ${out.length} bytes, header says ${size}`, { expected: size, found: out.length });
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
