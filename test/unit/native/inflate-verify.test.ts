// inflateVerify (native/ots_sys.c): a pulled .filez verified and stored in one
// thread-pool job. Every input, good or hostile, must get the same verdict
// and error code as the JS verifier (verifyArchiveContent), and a rejected
// object must leave nothing staged or stored, in archive and bare-user repos.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { stageVerifiedArchiveContent, verifyArchiveContent } from '../../../puller/pull/verify.js';
import { nativeSys } from '../../../shared/native/sys.js';
import { checksumOf, encodeArchiveHeader, encodeFileHeader, type Checksum, type FileHeader } from '../../../shared/objects/index.js';
import { Repo, Transaction } from '../../../shared/repo/index.js';
import { readXattrSync } from '../../../shared/repo/xattr-io.js';
import { makeTmpDir } from '../../helpers/tmp.js';

const URL = 'http://127.0.0.1:1/objects/xx/yy.filez';
const header: FileHeader = { uid: 0, gid: 0, mode: 0o100755, rdev: 0, symlinkTarget: '', xattrs: [] };
const payload = Buffer.from('#!/bin/sh\necho hello\n'.repeat(5000));
const good = (p: Uint8Array = payload, h = header) => ({
  csum: checksumOf(encodeFileHeader(h), p),
  bytes: Buffer.concat([encodeArchiveHeader(h, BigInt(p.length)), deflateRawSync(p)]),
});

/** .filez inputs: [name, checksum claimed, bytes, verdict] ('rejected': any of the verification codes). */
function cases(): [string, Checksum, Uint8Array, string][] {
  const g = good();
  const head = encodeArchiveHeader(header, BigInt(payload.length));
  const z = deflateRawSync(payload);
  const flipped = Buffer.from(g.bytes);
  flipped[flipped.length - 3] = (flipped[flipped.length - 3] ?? 0) ^ 0x40;
  const link: FileHeader = { ...header, mode: 0o120777, symlinkTarget: '../lib/x' };
  return [
    ['good', g.csum, g.bytes, 'ok'],
    ['empty file, no deflate stream', good(Buffer.alloc(0)).csum, encodeArchiveHeader(header, 0n), 'ok'],
    ['empty file, empty deflate stream', good(Buffer.alloc(0)).csum, good(Buffer.alloc(0)).bytes, 'ok'],
    ['symlink', good(Buffer.alloc(0), link).csum, encodeArchiveHeader(link, 0n), 'ok'],
    ['wrong checksum', checksumOf(payload), g.bytes, 'ERR_CHECKSUM_MISMATCH'],
    ['flipped byte', g.csum, flipped, 'rejected'],
    ['larger than declared', g.csum, Buffer.concat([encodeArchiveHeader(header, BigInt(payload.length - 1)), z]), 'rejected'],
    ['shorter than declared', g.csum, Buffer.concat([encodeArchiveHeader(header, BigInt(payload.length + 1)), z]), 'ERR_SIZE_MISMATCH'],
    ['trailing data', g.csum, Buffer.concat([head, z, Buffer.from('junk')]), 'ERR_BAD_FORMAT'],
    ['truncated stream', g.csum, Buffer.concat([head, z.subarray(0, z.length - 10)]), 'rejected'],
    ['not deflate', g.csum, Buffer.concat([head, Buffer.alloc(64, 0xff)]), 'rejected'],
  ];
}

const REJECTIONS = ['ERR_CHECKSUM_MISMATCH', 'ERR_SIZE_MISMATCH', 'ERR_BAD_FORMAT'];

/** 'ok', or the error code; a hostile stream may fail either check first, so 'rejected' accepts any of them. */
function expectVerdict(name: string, code: string, want: string): void {
  if (want === 'rejected') expect(REJECTIONS, name).toContain(code);
  else expect(code, name).toBe(want);
}

async function jsVerdict(csum: Checksum, bytes: Uint8Array): Promise<string> {
  try {
    await verifyArchiveContent(csum, bytes, URL);
    return 'ok';
  } catch (err: unknown) {
    return (err as { code: string }).code;
  }
}

describe.each(['archive', 'bare-user'] as const)('inflateVerify into %s repositories', (mode) => {
  it('gives the verdicts of the JS verifier on good and hostile objects, and stores only good ones', async () => {
    expect(nativeSys(), 'native helper missing: run npm ci').not.toBeNull();
    const t = makeTmpDir();
    let repo = await Repo.create(join(t, 'repo'), mode);
    for (const [i, [name, csum, bytes, want]] of cases().entries()) {
      repo = await Repo.create(join(t, `repo${i}`), mode); // each case starts without the object
      const tx = await Transaction.begin(repo);
      let verdict = 'ok';
      try {
        expect(await stageVerifiedArchiveContent(tx, csum, bytes, URL), name).toBe(true);
      } catch (err: unknown) {
        verdict = (err as { code: string }).code;
        expect((err as Error).message, name).toContain(URL);
        expect((err as Error).message, name).toContain(csum);
      }
      expectVerdict(name, verdict, want);
      expectVerdict(`${name} (JS verifier)`, await jsVerdict(csum, bytes), want);
      const stagedFiles = readdirSync(tx.stagingDir, { recursive: true }).filter((f) => String(f).endsWith('.file') || String(f).endsWith('.filez'));
      expect(stagedFiles.length, name).toBe(verdict === 'ok' ? 1 : 0);
      await tx.commit();
      expect(repo.hasObjectSync(csum, 'file'), name).toBe(verdict === 'ok');
    }
    // What is stored is what ostree stores: the .filez as served, or the payload with its metadata xattr.
    const g = good();
    repo = await Repo.create(join(t, 'repo-good'), mode);
    const tx = await Transaction.begin(repo);
    await stageVerifiedArchiveContent(tx, g.csum, g.bytes, URL);
    await tx.commit();
    const path = repo.objectPath(g.csum, 'file');
    if (mode === 'archive') expect(readFileSync(path)).toEqual(g.bytes);
    else {
      expect(readFileSync(path)).toEqual(payload);
      expect(readXattrSync(path, 'user.ostreemeta')).toBeDefined();
      expect((await repo.readContent(g.csum)).header.mode).toBe(0o100755);
    }
  });
});
