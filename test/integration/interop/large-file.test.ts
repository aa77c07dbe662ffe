// Bounded memory: a file much larger than the memory the tools may use is
// committed, served, pulled (archive and bare-user) and checked out with a
// peak RSS well under its size, and ostree agrees with the result.
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runWithPeakRss } from '../../helpers/peak-rss.js';
import { OTS_BIN, ostree, ots } from '../../helpers/run.js';
import { startOtsServer } from '../../helpers/servers.js';
import { makeTmpDir } from '../../helpers/tmp.js';

const SIZE_MB = 320;
const LIMIT_MB = 200;

async function sha256File(p: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(p)) h.update(c as Buffer);
  return h.digest('hex');
}

it(`a ${SIZE_MB} MB file goes through commit, pull and checkout under ${LIMIT_MB} MB RSS`, async () => {
  const t = makeTmpDir();
  mkdirSync(join(t, 'tree'));
  const big = join(t, 'tree', 'big.img');
  const fd = openSync(big, 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < SIZE_MB; i++) { chunk.writeUInt32LE(i, (i * 4096) % chunk.length); writeSync(fd, chunk); }
  closeSync(fd);
  const want = await sha256File(big);
  const src = join(t, 'src');
  await ots(`--repo=${src}`, 'init', '--mode=archive');
  const commit = await runWithPeakRss(OTS_BIN, [`--repo=${src}`, 'commit', '-b', 'main', join(t, 'tree')]);
  expect(commit.code, commit.stderr).toBe(0);
  expect(commit.peakMb).toBeLessThan(LIMIT_MB);
  await ots(`--repo=${src}`, 'summary', '-u');
  const srv = await startOtsServer(src);
  for (const mode of ['bare-user', 'archive']) {
    const c = join(t, `client-${mode}`);
    await ots(`--repo=${c}`, 'init', `--mode=${mode}`);
    await ots(`--repo=${c}`, 'remote', 'add', '--no-gpg-verify', 'o', srv.url);
    const pulled = await runWithPeakRss(OTS_BIN, [`--repo=${c}`, 'pull', 'o', 'main']);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.peakMb).toBeLessThan(LIMIT_MB);
    await ostree('fsck', `--repo=${c}`);
    const out = join(t, `out-${mode}`);
    const co = await runWithPeakRss(OTS_BIN, [`--repo=${c}`, 'checkout', '-U', 'o:main', out]);
    expect(co.code, co.stderr).toBe(0);
    expect(co.peakMb).toBeLessThan(LIMIT_MB);
    expect(await sha256File(join(out, 'big.img'))).toBe(want);
  }
  expect(readFileSync(join(src, 'config'), 'utf8')).toContain('archive-z2');
}, 240_000);

it('an incompressible 12 MB file (a .filez over the 8 MiB spill threshold) is streamed to disk as it arrives and pulls intact', async () => {
  const t = makeTmpDir();
  mkdirSync(join(t, 'tree'));
  const big = join(t, 'tree', 'noise.bin');
  const fd = openSync(big, 'w');
  let x = 0x9e3779b9;
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < 12; i++) {
    for (let k = 0; k < block.length; k += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; block.writeUInt32LE(x >>> 0, k); }
    writeSync(fd, block);
  }
  closeSync(fd);
  const want = await sha256File(big);
  const src = join(t, 'src');
  await ots(`--repo=${src}`, 'init', '--mode=archive');
  await ots(`--repo=${src}`, 'commit', '-b', 'main', join(t, 'tree'));
  const srv = await startOtsServer(src);
  for (const mode of ['bare-user', 'archive']) {
    const c = join(t, `client-${mode}`);
    await ots(`--repo=${c}`, 'init', `--mode=${mode}`);
    await ots(`--repo=${c}`, 'remote', 'add', '--no-gpg-verify', 'o', srv.url);
    await ots(`--repo=${c}`, 'pull', 'o', 'main');
    await ostree('fsck', `--repo=${c}`);
    const out = join(t, `out-${mode}`);
    await ots(`--repo=${c}`, 'checkout', '-U', 'o:main', out);
    expect(await sha256File(join(out, 'noise.bin'))).toBe(want);
  }
}, 120_000);
