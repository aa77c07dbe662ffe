// OpenPGP detached signatures over object bytes (ostree.gpgsigs), through
// openpgp.js (v4 keys; binary signature packets as gpg writes them).
import type * as openpgp from 'openpgp';

/** openpgp.js, loaded on first use: ~20 ms of start-up that pulls without GPG verification never need. */
const pgp = async (): Promise<typeof openpgp> => lazyRequire<typeof openpgp>('openpgp');
import { OtError } from '../errors.js';
import { lazyRequire } from '../lazy-require.js';

export type GpgPublicKey = openpgp.Key;
export type GpgPrivateKey = openpgp.PrivateKey;

/** Read public keys from armored text or a binary keyring (e.g. REMOTE.trustedkeys.gpg). */
export async function readGpgPublicKeys(data: Uint8Array | string): Promise<GpgPublicKey[]> {
  try {
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
    if (text.includes('-----BEGIN PGP')) return await (await pgp()).readKeys({ armoredKeys: text });
    return await (await pgp()).readKeys({ binaryKeys: typeof data === 'string' ? Buffer.from(data, 'latin1') : data });
  } catch (err: unknown) {
    throw new OtError('ERR_BAD_FORMAT', `Could not read OpenPGP keys: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Read an unprotected private key (armored or binary). */
export async function readGpgPrivateKey(data: Uint8Array | string): Promise<GpgPrivateKey> {
  try {
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
    if (text.includes('-----BEGIN PGP')) return await (await pgp()).readPrivateKey({ armoredKey: text });
    return await (await pgp()).readPrivateKey({ binaryKey: typeof data === 'string' ? Buffer.from(data, 'latin1') : data });
  } catch (err: unknown) {
    throw new OtError('ERR_BAD_FORMAT', `Could not read the OpenPGP private key: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** A binary detached signature over `data`. */
export async function gpgSign(key: GpgPrivateKey, data: Uint8Array): Promise<Uint8Array> {
  const message = await (await pgp()).createMessage({ binary: data });
  return (await (await pgp()).sign({ message, signingKeys: key, detached: true, format: 'binary' })) as Uint8Array;
}

/** The 16-hex key IDs (issuer) of the signatures in `sig`. */
export async function gpgSignatureKeyIds(sig: Uint8Array): Promise<string[]> {
  try {
    const s = await (await pgp()).readSignature({ binarySignature: sig });
    return s.getSigningKeyIDs().map((k) => k.toHex().toUpperCase());
  } catch {
    return [];
  }
}

export interface GpgVerifyResult { valid: boolean; goodKeyIds: string[]; unknownKeyIds: string[]; badKeyIds: string[] }

/**
 * Verify the concatenated signatures against `data` with trusted `keys`.
 * Valid when at least one signature verifies with a trusted key (signatures
 * by unknown keys are ignored, as in ostree).
 */
export async function gpgVerify(data: Uint8Array, sigs: readonly Uint8Array[], keys: readonly GpgPublicKey[]): Promise<GpgVerifyResult> {
  const res: GpgVerifyResult = { valid: false, goodKeyIds: [], unknownKeyIds: [], badKeyIds: [] };
  if (sigs.length === 0) return res;
  let signature: openpgp.Signature;
  try {
    signature = await (await pgp()).readSignature({ binarySignature: Buffer.concat(sigs.map((s) => Buffer.from(s))) });
  } catch (err: unknown) {
    throw new OtError('ERR_SIGNATURE_INVALID', `Unreadable OpenPGP signature: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const message = await (await pgp()).createMessage({ binary: data });
  const known = new Set(keys.flatMap((k) => k.getKeyIDs().map((id) => id.toHex().toUpperCase())));
  const out = await (await pgp()).verify({ message, signature, verificationKeys: [...keys], format: 'binary' });
  for (const s of out.signatures) {
    const id = s.keyID.toHex().toUpperCase();
    if (!known.has(id)) { res.unknownKeyIds.push(id); continue; }
    try {
      await s.verified;
      res.goodKeyIds.push(id);
    } catch {
      res.badKeyIds.push(id);
    }
  }
  res.valid = res.goodKeyIds.length > 0;
  return res;
}
