// ots pull --mirror: an origin made by stock ostree (signed summary, deltas)
// served by nginx is mirrored; ots-server serves the mirror; stock ostree
// pulls from it with GPG verification through the deltas; summary, summary.sig
// and deltas are byte-identical; re-syncs are incremental; killed syncs never
// break clients of the mirror.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeGpgKey, type GpgKey } from '../../helpers/gpg.js';
import { OTS_BIN, ostree, ots, runOk } from '../../helpers/run.js';
import { makeSampleTree } from '../../helpers/sample-tree.js';
import { startNginx, startOtsServer } from '../../helpers/servers.js';
import { makeTmpDir } from '../../helpers/tmp.js';

let key: GpgKey;
beforeAll(async () => { key = await makeGpgKey(mkdtempSync(join(tmpdir(), 'ots-mirror-gpg-')), 'vendor'); }, 60_000);

async function publish(origin: string, t: string, v: number, prev: string | null): Promise<string> {
  makeSampleTree(join(t, `tree${v}`), { variant: v });
  writeFileSync(join(t, `tree${v}/usr/lib/v${v}.bin`), Buffer.alloc(20_000 + v, v));
  const c = (await ostree('commit', `--repo=${origin}`, '-b', 'os/main', `--gpg-sign=${key.fingerprint}`, `--gpg-homedir=${key.homedir}`, `--timestamp=@${1700000000 + v}`, join(t, `tree${v}`))).trim();
  if (prev) await ostree('static-delta', 'generate', `--repo=${origin}`, `--from=${prev}`, `--to=${c}`);
  await ostree('summary', `--repo=${origin}`, '-u', `--gpg-sign=${key.fingerprint}`, `--gpg-homedir=${key.homedir}`);
  return c;
}

function files(root: string, sub: string): string[] {
  try { return (readdirSync(join(root, sub), { recursive: true }) as string[]).map((f) => `${sub}/${f}`).sort(); } catch { return []; }
}

async function stockClientPull(t: string, url: string, name: string, from: string | null): Promise<string> {
  const c = join(t, name);
  await ostree('init', `--repo=${c}`, '--mode=bare-user');
  await ostree('remote', 'add', `--repo=${c}`, `--gpg-import=${key.publicKeyFile}`, '--set=gpg-verify-summary=true', 'o', url);
  if (from) await ostree('pull', `--repo=${c}`, 'o', `os/main@${from}`);
  await ostree('pull', `--repo=${c}`, 'o', 'os/main');
  await ostree('fsck', `--repo=${c}`);
  return (await ostree('rev-parse', `--repo=${c}`, 'o:os/main')).trim();
}

describe('ots pull --mirror', () => {
  it('mirrors a signed origin with deltas; stock ostree pulls from the mirror through the deltas', async () => {
    const t = makeTmpDir();
    const origin = join(t, 'origin');
    await ostree('init', `--repo=${origin}`, '--mode=archive');
    const c1 = await publish(origin, t, 1, null);
    const c2 = await publish(origin, t, 2, c1);
    const nginx = await startNginx(origin, join(t, 'nginx'));
    const M = join(t, 'mirror');
    await ots(`--repo=${M}`, 'init', '--mode=archive');
    await ots(`--repo=${M}`, 'remote', 'add', `--gpg-import=${key.publicKeyFile}`, 'origin', nginx.url);
    await ots(`--repo=${M}`, 'pull', '--mirror', '--depth=-1', 'origin');
    await ostree('fsck', `--repo=${M}`);
    for (const f of ['summary', 'summary.sig']) expect(readFileSync(join(M, f)).equals(readFileSync(join(origin, f))), f).toBe(true);
    const deltaFiles = [...files(origin, 'deltas'), ...files(origin, 'delta-indexes')].filter((f) => !f.endsWith('/') && /\/(superblock|\d+)$|\.index$/.test(f));
    expect(deltaFiles.length).toBeGreaterThan(1);
    for (const f of deltaFiles) expect(readFileSync(join(M, f)).equals(readFileSync(join(origin, f))), f).toBe(true);
    expect(readFileSync(join(M, 'refs/heads/os/main'), 'utf8').trim()).toBe(c2);

    const srv = await startOtsServer(M);
    const metrics = async () => Number(/ots_http_requests_total\{class="delta",status="200"\} (\d+)/.exec(await (await fetch(`${srv.url}/metrics`)).text())?.[1] ?? 0);
    expect(await stockClientPull(t, srv.url, 'client', c1)).toBe(c2);
    expect(await metrics()).toBeGreaterThan(0);

    // Incremental: a new origin commit; the re-sync fetches only the new objects and delta.
    const c3 = await publish(origin, t, 3, c2);
    const before = nginx.accessLog().length;
    await ots(`--repo=${M}`, 'pull', '--mirror', 'origin');
    const resync = nginx.accessLog().slice(before);
    const newObjects = (await ostree('ls', `--repo=${origin}`, '-R', '-C', c3)).split('\n').length;
    expect(resync.filter((l) => l.includes('.filez')).length).toBeLessThan(newObjects / 3);
    expect(resync.filter((l) => / \/deltas\/.*superblock/.test(l)).length).toBe(1);
    expect(readFileSync(join(M, 'summary')).equals(readFileSync(join(origin, 'summary')))).toBe(true);
    expect(await stockClientPull(t, srv.url, 'client2', c2)).toBe(c3);
  });

  it('a sync killed at random points never breaks clients of the mirror; the rerun completes', async () => {
    const t = makeTmpDir();
    const origin = join(t, 'origin');
    await ostree('init', `--repo=${origin}`, '--mode=archive');
    const c1 = await publish(origin, t, 1, null);
    const nginx = await startNginx(origin, join(t, 'nginx'));
    const M = join(t, 'mirror');
    await ots(`--repo=${M}`, 'init', '--mode=archive');
    await ots(`--repo=${M}`, 'remote', 'add', `--gpg-import=${key.publicKeyFile}`, 'origin', nginx.url);
    await ots(`--repo=${M}`, 'pull', '--mirror', 'origin');
    const srv = await startOtsServer(M);
    let prev = c1;
    for (let v = 2; v <= 5; v++) {
      const next = await publish(origin, t, v, prev);
      const child = spawn(OTS_BIN, [`--repo=${M}`, 'pull', '--mirror', 'origin'], { stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60 + v * 70);
      await new Promise((r) => child.on('close', r));
      clearTimeout(timer);
      const got = await stockClientPull(t, srv.url, `client-${v}`, null);
      expect([prev, next]).toContain(got);
      await ots(`--repo=${M}`, 'pull', '--mirror', 'origin');
      expect(await stockClientPull(t, srv.url, `client-${v}-after`, null)).toBe(next);
      prev = next;
    }
    await runOk('ostree', ['fsck', `--repo=${M}`]);
  });
});
