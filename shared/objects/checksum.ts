// Object checksums: SHA-256, 64 lowercase hex characters (objects.md §1).
import { createHash } from 'node:crypto';
import { OtError } from '../errors.js';

/** A validated 64-character lowercase hex SHA-256. Create with {@link parseChecksum} or {@link checksumOf}. */
export type Checksum = string & { readonly __brand: 'Checksum' };

const HEX64 = /^[0-9a-f]{64}$/;

/** Validate an untrusted hex checksum. Throws ERR_BAD_FORMAT. Pure. */
export function parseChecksum(text: string, what = 'checksum'): Checksum {
  if (!HEX64.test(text)) {
    throw new OtError('ERR_BAD_FORMAT', `Invalid ${what} '${text.slice(0, 80)}': expected 64 lowercase hex characters`);
  }
  return text as Checksum;
}

/** True when `text` is a well-formed checksum. */
export function isChecksum(text: string): text is Checksum {
  return HEX64.test(text);
}

/** SHA-256 of `data` (one buffer or several, hashed in order) as a Checksum. Pure. */
export function checksumOf(...data: Uint8Array[]): Checksum {
  const h = createHash('sha256');
  for (const d of data) h.update(d);
  return h.digest('hex') as Checksum;
}

/** 32 raw bytes → Checksum. Throws ERR_BAD_FORMAT unless exactly 32 bytes. */
export function checksumFromBytes(bytes: Uint8Array, what = 'checksum'): Checksum {
  if (bytes.length !== 32) {
    throw new OtError('ERR_BAD_FORMAT', `Invalid ${what} of length ${bytes.length} expected 32`);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, 32).toString('hex') as Checksum;
}

/** Checksum → its 32 raw bytes. */
export function checksumToBytes(csum: Checksum): Uint8Array {
  return new Uint8Array(Buffer.from(csum, 'hex'));
}
