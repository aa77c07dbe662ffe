// Per-remote signature policy, as ostree decides it: gpg-verify (default
// true) and gpg-verify-summary with the remote's keyring and gpgkeypath;
// sign-verify / sign-verify-summary with ed25519 keys (signing.md §2–§3).
// A commit is accepted when at least one signature verifies with a trusted key.
import type { KeyObject } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError } from '../../shared/errors.js';
import type { Vardict } from '../../shared/gvariant/index.js';
import type { RemoteConfig } from '../../shared/repo/index.js';
import {
  ED25519_KEY, GPG_KEY, ed25519PublicKey, ed25519VerifyAny, gpgSignatureKeyIds, gpgVerify, parseEd25519KeysFile,
  readGpgPublicKeys, signaturesOf, type GpgPublicKey,
} from '../../shared/sign/index.js';

export interface PolicyOptions {
  /** Global trusted keyring directory (OSTREE_GPG_HOME or /usr/share/ostree/trusted.gpg.d). */
  globalGpgDir: string;
}

export class SignaturePolicy {
  private constructor(
    private readonly remote: RemoteConfig,
    private readonly gpgKeys: GpgPublicKey[],
    private readonly edKeys: KeyObject[],
    readonly gpgCommits: boolean,
    readonly gpgSummary: boolean,
    readonly signCommits: boolean,
    readonly signSummary: boolean,
  ) {}

  /** Build the policy for `remote` in the repo at `repoPath`. */
  static async load(repoPath: string, remote: RemoteConfig, opts: PolicyOptions): Promise<SignaturePolicy> {
    const o = remote.options;
    const signVerify = (o['sign-verify'] ?? 'false') !== 'false';
    const signSummary = (o['sign-verify-summary'] ?? 'false') === 'true';
    let gpgKeys: GpgPublicKey[] = [];
    if (remote.gpgVerify || remote.gpgVerifySummary) {
      const own = await readKeyringFiles([join(repoPath, `${remote.name}.trustedkeys.gpg`)]);
      const extra = await readKeyringFiles(splitPaths(o.gpgkeypath));
      gpgKeys = [...own, ...extra];
      if (own.length === 0) gpgKeys.push(...(await readKeyringFiles([opts.globalGpgDir])));
    }
    const edKeys: KeyObject[] = [];
    if (signVerify || signSummary) {
      for (const k of (o['verification-ed25519-key'] ?? '').split(/[;,\s]+/).filter(Boolean)) edKeys.push(ed25519PublicKey(k));
      const file = o['verification-ed25519-file'];
      if (file) edKeys.push(...parseEd25519KeysFile(await readFile(file, 'utf8')));
      if (edKeys.length === 0) {
        throw new OtError('ERR_SIGNATURE_MISSING', `Remote "${remote.name}" has sign-verify enabled but no ed25519 keys`, {
          hint: 'set verification-ed25519-key or verification-ed25519-file for the remote',
        });
      }
    }
    return new SignaturePolicy(remote, gpgKeys, edKeys, remote.gpgVerify, remote.gpgVerifySummary, signVerify, signSummary);
  }

  get needsSummarySig(): boolean {
    return this.gpgSummary || this.signSummary;
  }

  /** Verify a commit's bytes against its detached metadata. Throws ERR_SIGNATURE_MISSING / ERR_SIGNATURE_INVALID. */
  async verifyCommit(commit: string, ref: string | null, bytes: Uint8Array, detached: Vardict): Promise<void> {
    const what = `Commit ${commit}${ref ? ` (ref ${ref})` : ''}`;
    if (this.gpgCommits) await this.verifyGpg(what, bytes, detached, 'gpg-verify=false');
    if (this.signCommits) this.verifyEd25519(what, bytes, detached);
  }

  /** Verify summary bytes against summary.sig (null when the server has none). */
  async verifySummary(bytes: Uint8Array, sig: Vardict | null): Promise<void> {
    if (!this.needsSummarySig) return;
    if (sig === null) {
      throw new OtError('ERR_SIGNATURE_MISSING', `GPG verification enabled, but no summary.sig found for remote "${this.remote.name}"`, {
        hint: 'sign the summary on the server (summary -u --gpg-sign), or set gpg-verify-summary=false',
      });
    }
    if (this.gpgSummary) await this.verifyGpg(`Summary of remote "${this.remote.name}"`, bytes, sig, 'gpg-verify-summary=false');
    if (this.signSummary) this.verifyEd25519(`Summary of remote "${this.remote.name}"`, bytes, sig);
  }

  private async verifyGpg(what: string, bytes: Uint8Array, dict: Vardict, disable: string): Promise<void> {
    const sigs = signaturesOf(dict, GPG_KEY);
    if (sigs.length === 0) {
      throw new OtError('ERR_SIGNATURE_MISSING', `${what}: GPG verification enabled, but no signatures found (use ${disable} in remote config to disable)`);
    }
    if (this.gpgKeys.length === 0) {
      throw new OtError('ERR_SIGNATURE_INVALID', `${what}: no trusted GPG keys for remote "${this.remote.name}"`, {
        hint: `import the vendor key: ots remote gpg-import ${this.remote.name} -k KEYFILE`,
      });
    }
    const r = await gpgVerify(bytes, sigs, this.gpgKeys);
    if (!r.valid) {
      const ids = [...r.badKeyIds, ...r.unknownKeyIds, ...(await Promise.all(sigs.map(gpgSignatureKeyIds))).flat()];
      const uniq = [...new Set(ids)].join(', ');
      throw new OtError('ERR_SIGNATURE_INVALID', `${what}: no valid GPG signature (signed by key ID ${uniq || 'unknown'}; ${r.badKeyIds.length > 0 ? 'signature does not match the data' : 'key is not trusted'})`, {
        hint: `the remote's trusted keys are in ${this.remote.name}.trustedkeys.gpg and gpgkeypath`,
      });
    }
  }

  private verifyEd25519(what: string, bytes: Uint8Array, dict: Vardict): void {
    const sigs = signaturesOf(dict, ED25519_KEY);
    if (sigs.length === 0) throw new OtError('ERR_SIGNATURE_MISSING', `${what}: No signatures found (ed25519)`);
    if (!ed25519VerifyAny(bytes, sigs, this.edKeys).ok) {
      throw new OtError('ERR_SIGNATURE_INVALID', `${what}: no valid ed25519 signature from a trusted key`);
    }
  }
}

function splitPaths(v: string | undefined): string[] {
  return (v ?? '').split(/[;,]/).map((s) => s.trim()).filter(Boolean);
}

/** Read every keyring file given (a directory means all its files); missing paths are skipped. */
async function readKeyringFiles(paths: string[]): Promise<GpgPublicKey[]> {
  const out: GpgPublicKey[] = [];
  for (const p of paths) {
    let files: string[];
    try {
      files = (await stat(p)).isDirectory() ? (await readdir(p)).sort().map((f) => join(p, f)) : [p];
    } catch {
      continue;
    }
    for (const f of files) out.push(...(await readGpgPublicKeys(new Uint8Array(await readFile(f)))));
  }
  return out;
}
