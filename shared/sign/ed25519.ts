// ed25519 signatures as ostree's signapi makes them: 64-byte raw signatures
// over the exact object bytes; public keys 32 bytes (base64 in text),
// secret keys in libsodium layout seed‖public (signing.md §3). node:crypto only.
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { OtError } from '../errors.js';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function b64(text: string, what: string): Buffer {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t)) throw new OtError('ERR_INVALID_ARGUMENT', `Invalid base64 ${what}`);
  return Buffer.from(t, 'base64');
}

/** A public key from 32 raw bytes or their base64. */
export function ed25519PublicKey(key: string | Uint8Array): KeyObject {
  const raw = typeof key === 'string' ? b64(key, 'ed25519 public key') : Buffer.from(key);
  if (raw.length !== 32) throw new OtError('ERR_INVALID_ARGUMENT', `Invalid ed25519 public key of ${raw.length} bytes, expected 32`);
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** A secret key from the libsodium layout (64 bytes: seed ‖ public) or a bare 32-byte seed, raw or base64. */
export function ed25519SecretKey(key: string | Uint8Array): KeyObject {
  const raw = typeof key === 'string' ? b64(key, 'ed25519 secret key') : Buffer.from(key);
  if (raw.length !== 64 && raw.length !== 32) throw new OtError('ERR_INVALID_ARGUMENT', `Invalid ed25519 secret key of ${raw.length} bytes, expected 64`);
  const k = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
  if (raw.length === 64) {
    const pub = createPublicKey(k).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
    if (!pub.equals(raw.subarray(32))) throw new OtError('ERR_INVALID_ARGUMENT', 'ed25519 secret key: public half does not match the seed');
  }
  return k;
}

/** The raw 32-byte public key of a secret key, base64. */
export function ed25519PublicOf(secret: KeyObject): string {
  return createPublicKey(secret).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length).toString('base64');
}

/** Sign `data`; returns the 64-byte signature. */
export function ed25519Sign(secret: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, data, secret));
}

/** Whether any signature verifies with any key. A signature not 64 bytes long never verifies. */
export function ed25519VerifyAny(data: Uint8Array, sigs: readonly Uint8Array[], keys: readonly KeyObject[]): { ok: boolean; keyIndex?: number } {
  for (const s of sigs) {
    if (s.length !== 64) continue;
    for (let i = 0; i < keys.length; i++) if (verify(null, data, keys[i] as KeyObject, s)) return { ok: true, keyIndex: i };
  }
  return { ok: false };
}

/** Parse a keys file: one base64 public key per line (blank lines and # comments ignored). */
export function parseEd25519KeysFile(text: string): KeyObject[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => ed25519PublicKey(l));
}
