// Signing, both ways: commits and summaries signed by ots verify in stock
// ostree (and fail when tampered or signed by an untrusted key); repos signed
// by stock ostree verify in ots pull, which refuses — storing nothing — a
// missing signature, a wrong key, a tampered signature, a summary signed by
// another key and a commit bound to another ref. ed25519 round trip and the
// spec's vector.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeDetached, encodeDetached, GPG_KEY, signaturesOf, withSignatures } from '../../../shared/sign/index.js';
import { makeGpgKey, type GpgKey } from '../../helpers/gpg.js';
import { ostree, ots, otsRun, run } from '../../helpers/run.js';
import { makeSampleTree } from '../../helpers/sample-tree.js';
import { startOtsServer } from '../../helpers/servers.js';
import { makeTmpDir } from '../../helpers/tmp.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

let keysDir: string;
let vendor: GpgKey;
let other: GpgKey;

beforeAll(async () => {
  keysDir = mkdtempSync(join(tmpdir(), 'ots-gpg-'));
  [vendor, other] = await Promise.all([makeGpgKey(keysDir, 'vendor'), makeGpgKey(keysDir, 'other')]);
}, 120_000);

type Tool = 'ots' | 'ostree';
const cli = (t: Tool, repo: string) => (...a: string[]) => (t === 'ots' ? ots(`--repo=${repo}`, ...a) : ostree(`--repo=${repo}`, ...a));

/** An archive repo with `main` committed and commit + summary signed by `signer` using `tool`. */
async function signedRepo(t: string, tool: Tool, signer: GpgKey, opts: { signCommit?: boolean; summarySigner?: GpgKey } = {}): Promise<{ repo: string; commit: string }> {
  const repo = join(t, 'src');
  const r = cli(tool, repo);
  makeSampleTree(join(t, 'tree'));
  await r('init', '--mode=archive');
  const commit = (await r('commit', '-b', 'main', join(t, 'tree'))).trim();
  if (opts.signCommit !== false) await r('gpg-sign', `--gpg-homedir=${signer.homedir}`, commit, signer.fingerprint);
  const s = opts.summarySigner ?? signer;
  await r('summary', '-u', `--gpg-homedir=${s.homedir}`, `--gpg-sign=${s.fingerprint}`);
  return { repo, commit };
}

function objectNames(repo: string): string[] {
  return readdirSync(join(repo, 'objects')).flatMap((p) => readdirSync(join(repo, 'objects', p)).map((f) => p + f));
}

async function client(t: string, tool: Tool, url: string, key: GpgKey, name = 'c'): Promise<string> {
  const c = join(t, name);
  const r = cli(tool, c);
  await r('init', '--mode=bare-user');
  await r('remote', 'add', `--gpg-import=${key.publicKeyFile}`, '--set=gpg-verify-summary=true', 'o', url);
  return c;
}

describe('signed by ots, verified by stock ostree', () => {
  it('pulls with gpg-verify and gpg-verify-summary; fails for an untrusted key or a tampered signature', async () => {
    const t = makeTmpDir();
    const { repo, commit } = await signedRepo(t, 'ots', vendor);
    const srv = await startOtsServer(repo);
    const good = await client(t, 'ostree', srv.url, vendor, 'good');
    await ostree('pull', `--repo=${good}`, 'o', 'main');
    await ostree('fsck', `--repo=${good}`);
    expect(await ostree('show', `--repo=${good}`, '--gpg-verify-remote=o', commit)).toContain('Good signature');

    const untrusted = await client(t, 'ostree', srv.url, other, 'untrusted');
    const r1 = await run('ostree', ['pull', `--repo=${untrusted}`, 'o', 'main']);
    expect(r1.code).not.toBe(0);

    // Tamper with the commit signature (summary stays valid).
    const metaPath = join(repo, 'objects', commit.slice(0, 2), `${commit.slice(2)}.commitmeta`);
    const dict = decodeDetached(new Uint8Array(readFileSync(metaPath)));
    const sig = Buffer.from(signaturesOf(dict, GPG_KEY)[0] as Uint8Array);
    sig[sig.length - 5] = (sig[sig.length - 5] ?? 0) ^ 0xff;
    writeFileSync(metaPath, encodeDetached(withSignatures(dict.filter(([k]) => k !== GPG_KEY), GPG_KEY, [sig])));
    const tampered = await client(t, 'ostree', srv.url, vendor, 'tampered');
    const r2 = await run('ostree', ['pull', `--repo=${tampered}`, 'o', 'main']);
    expect(r2.code).not.toBe(0);
  });
});

describe('signed by stock ostree, verified by ots pull', () => {
  it('succeeds with the right key', async () => {
    const t = makeTmpDir();
    const { repo, commit } = await signedRepo(t, 'ostree', vendor);
    const srv = await startOtsServer(repo);
    const c = await client(t, 'ots', srv.url, vendor);
    await ots(`--repo=${c}`, 'pull', 'o', 'main');
    expect(await ots(`--repo=${c}`, 'rev-parse', 'o:main')).toBe(`${commit}\n`);
    await ostree('fsck', `--repo=${c}`);
    // The detached signature came along: stock ostree verifies it locally.
    await ostree('remote', 'add', `--repo=${c}`, `--gpg-import=${vendor.publicKeyFile}`, 'o2', srv.url);
    expect(await ostree('show', `--repo=${c}`, '--gpg-verify-remote=o2', commit)).toContain('Good signature');
  });

  it.each([
    ['a missing commit signature', 'missing', /no signatures found/],
    ['a commit signed by an untrusted key', 'wrong-key', /no valid GPG signature .*key ID/],
    ['a summary signed by another key', 'summary-other', /Summary of remote "o": no valid GPG signature/],
    ['a commit bound to another ref', 'ref-binding', /ref binding/],
  ])('fails clearly for %s and stores nothing', async (_label, scenario, message) => {
    const t = makeTmpDir();
    const signer = scenario === 'wrong-key' ? other : vendor;
    const { repo, commit } = await signedRepo(t, 'ostree', signer, { signCommit: scenario !== 'missing', summarySigner: vendor });
    let ref = 'main';
    if (scenario === 'summary-other') {
      await ostree('summary', `--repo=${repo}`, '-u', `--gpg-homedir=${other.homedir}`, `--gpg-sign=${other.fingerprint}`);
    }
    if (scenario === 'ref-binding') {
      ref = 'other';
      writeFileSync(join(repo, 'refs/heads/other'), `${commit}\n`);
      await ostree('summary', `--repo=${repo}`, '-u', `--gpg-homedir=${vendor.homedir}`, `--gpg-sign=${vendor.fingerprint}`);
    }
    const srv = await startOtsServer(repo);
    const c = await client(t, 'ots', srv.url, vendor);
    const r = await otsRun([`--repo=${c}`, 'pull', 'o', ref]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    if (scenario !== 'summary-other') expect(r.stderr).toContain(commit);
    expect(await ots(`--repo=${c}`, 'refs')).toBe('');
    expect(objectNames(c).filter((n) => n.endsWith('.commit') || n.endsWith('.commitmeta'))).toEqual([]);
  });

  it('refuses a commit whose signature was tampered with', async () => {
    const t = makeTmpDir();
    const { repo, commit } = await signedRepo(t, 'ostree', vendor);
    const metaPath = join(repo, 'objects', commit.slice(0, 2), `${commit.slice(2)}.commitmeta`);
    const dict = decodeDetached(new Uint8Array(readFileSync(metaPath)));
    const sig = Buffer.from(signaturesOf(dict, GPG_KEY)[0] as Uint8Array);
    sig[sig.length - 3] = (sig[sig.length - 3] ?? 0) ^ 0xff;
    writeFileSync(metaPath, encodeDetached(withSignatures([], GPG_KEY, [sig])));
    const srv = await startOtsServer(repo);
    const c = await client(t, 'ots', srv.url, vendor);
    const r = await otsRun([`--repo=${c}`, 'pull', 'o', 'main']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(commit);
    expect(r.stderr).toMatch(/GPG/);
    expect(await ots(`--repo=${c}`, 'refs')).toBe('');
  });
});

describe('ed25519', () => {
  interface Ed { seed_hex: string; public_key_base64: string; secret_key_base64_libsodium_format_seed_then_pubkey: string; signature_hex: string; commitmeta_hex: string }
  const vec = (JSON.parse(readFileSync(new URL('../../fixtures/vectors/misc.json', import.meta.url), 'utf8')) as { ed25519_example: Ed }).ed25519_example;

  it('signs the fixture commit exactly as the spec vector says', async () => {
    const t = makeTmpDir();
    const { materialiseFixture, fixture } = await import('../../helpers/fixture-repo.js');
    const repo = join(t, 'fixture');
    materialiseFixture(repo);
    const metaPath = join(repo, 'objects', fixture.commits.B.slice(0, 2), `${fixture.commits.B.slice(2)}.commitmeta`);
    writeFileSync(metaPath, new Uint8Array(0));
    await ots(`--repo=${repo}`, 'sign', fixture.commits.B, vec.secret_key_base64_libsodium_format_seed_then_pubkey);
    expect(readFileSync(metaPath).toString('hex')).toBe(vec.commitmeta_hex);
    expect(await ots(`--repo=${repo}`, 'sign', '--verify', fixture.commits.B, vec.public_key_base64)).toContain('verified');
  });

  it('round-trips through ots and a verifying pull; a wrong key or a tampered commit fails', async () => {
    const t = makeTmpDir();
    const { generateKeyPairSync } = await import('node:crypto');
    const mk = () => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16);
      const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
      return { secret: Buffer.concat([seed, pub]).toString('base64'), pub: pub.toString('base64') };
    };
    const good = mk();
    const bad = mk();
    const repo = join(t, 'src');
    makeSampleTree(join(t, 'tree'));
    await ots(`--repo=${repo}`, 'init', '--mode=archive');
    const commit = (await ots(`--repo=${repo}`, 'commit', '-b', 'main', `--sign=${good.secret}`, join(t, 'tree'))).trim();
    await ots(`--repo=${repo}`, 'summary', '-u', `--sign=${good.secret}`);
    expect(await ots(`--repo=${repo}`, 'sign', '--verify', commit, good.pub)).toContain('verified');
    expect((await otsRun([`--repo=${repo}`, 'sign', '--verify', commit, bad.pub])).code).toBe(1);
    const srv = await startOtsServer(repo);
    for (const [key, ok] of [[good.pub, true], [bad.pub, false]] as const) {
      const c = join(t, `c-${ok}`);
      await ots(`--repo=${c}`, 'init', '--mode=bare-user');
      await ots(`--repo=${c}`, 'remote', 'add', '--no-gpg-verify', `--sign-verify=ed25519=inline:${key}`, '--set=sign-verify-summary=true', 'o', srv.url);
      const r = await otsRun([`--repo=${c}`, 'pull', 'o', 'main']);
      expect(r.code, r.stderr).toBe(ok ? 0 : 1);
      if (!ok) expect(r.stderr).toMatch(/ed25519/);
    }
    // Tampered commit bytes: the commit no longer matches its signature (nor its checksum).
    const commitPath = join(repo, 'objects', commit.slice(0, 2), `${commit.slice(2)}.commit`);
    const b = readFileSync(commitPath);
    b[b.length - 40] = (b[b.length - 40] ?? 0) ^ 1;
    writeFileSync(commitPath, b);
    expect((await otsRun([`--repo=${repo}`, 'sign', '--verify', commit, good.pub])).code).toBe(1);
  });
});

describe('deltas and signatures', () => {
  it('a delta generated after signing carries the commitmeta; verifying delta pulls succeed for stock ostree and ots', async () => {
    const t = makeTmpDir();
    const repo = join(t, 'src');
    makeSampleTree(join(t, 'tree-a'), { variant: 0 });
    makeSampleTree(join(t, 'tree-b'), { variant: 1 });
    await ots(`--repo=${repo}`, 'init', '--mode=archive');
    const a = (await ots(`--repo=${repo}`, 'commit', '-b', 'main', `--gpg-sign=${vendor.fingerprint}`, `--gpg-homedir=${vendor.homedir}`, join(t, 'tree-a'))).trim();
    const b = (await ots(`--repo=${repo}`, 'commit', '-b', 'main', `--gpg-sign=${vendor.fingerprint}`, `--gpg-homedir=${vendor.homedir}`, join(t, 'tree-b'))).trim();
    await ots(`--repo=${repo}`, 'static-delta', 'generate', `--from=${a}`, `--to=${b}`);
    await ots(`--repo=${repo}`, 'static-delta', 'generate', '--empty', `--to=${b}`);
    await ots(`--repo=${repo}`, 'summary', '-u', `--gpg-sign=${vendor.fingerprint}`, `--gpg-homedir=${vendor.homedir}`);
    const srv = await startOtsServer(repo);
    const deltaGets = async () => Number(/ots_http_requests_total\{class="delta",status="200"\} (\d+)/.exec(await (await fetch(`${srv.url}/metrics`)).text())?.[1] ?? 0);
    for (const tool of ['ostree', 'ots'] as const) {
      const c = await client(t, tool, srv.url, vendor, `c-${tool}`);
      const r = cli(tool, c);
      await r('pull', 'o', `main@${a}`);
      const before = await deltaGets();
      await r('pull', 'o', 'main');   // through the from→to delta, verifying the commitmeta it embeds
      expect(await deltaGets()).toBeGreaterThan(before);
      await ostree('fsck', `--repo=${c}`);
      expect(await ostree('show', `--repo=${c}`, `--gpg-verify-remote=o`, b)).toContain('Good signature');
    }
  });
});
