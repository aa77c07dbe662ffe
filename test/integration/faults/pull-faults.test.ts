// Pull faults against a fault-injecting server: corrupt, truncated and reset
// responses, 500s, 404s, a server that dies mid-pull, a hostile dirtree.
// Each ends with nothing corrupt stored (real ostree fsck passes) and a clear error.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checksumOf, encodeCommit, encodeDirmeta, encodeDirtree, S_IFDIR } from '../../../shared/objects/index.js';
import { ostree, ots, otsRun } from '../../helpers/run.js';
import { makeSampleTree } from '../../helpers/sample-tree.js';
import { startFaultServer, type Fault } from '../../helpers/servers.js';
import { makeTmpDir } from '../../helpers/tmp.js';

async function setup(t: string): Promise<{ src: string; commit: string }> {
  const src = join(t, 'src');
  makeSampleTree(join(t, 'tree'));
  await ots(`--repo=${src}`, 'init', '--mode=archive');
  const commit = (await ots(`--repo=${src}`, 'commit', '-b', 'main', join(t, 'tree'))).trim();
  await ots(`--repo=${src}`, 'summary', '-u');
  return { src, commit };
}

async function client(t: string, url: string, mode = 'bare-user'): Promise<string> {
  const c = join(t, `client-${Math.random().toString(36).slice(2)}`);
  await ots(`--repo=${c}`, 'init', `--mode=${mode}`);
  await ots(`--repo=${c}`, 'remote', 'add', '--no-gpg-verify', 'o', url);
  return c;
}

const pullArgs = (c: string, ...extra: string[]) => [`--repo=${c}`, 'pull', '--network-retries=2', '--stall-timeout=5', ...extra, 'o', 'main'];

function countObjects(repo: string, ext: string): number {
  let n = 0;
  for (const p of readdirSync(join(repo, 'objects'))) n += readdirSync(join(repo, 'objects', p)).filter((f) => f.endsWith(ext)).length;
  return n;
}

describe('pull faults', () => {
  it('a served object with a flipped byte is rejected, named with its URL, and never stored', async () => {
    const t = makeTmpDir();
    const { src } = await setup(t);
    const victim = readdirSync(join(src, 'objects')).flatMap((p) => readdirSync(join(src, 'objects', p)).map((f) => `objects/${p}/${f}`)).find((f) => f.endsWith('.filez')) as string;
    const fault: Fault = (_req, res, path) => {
      if (path !== victim) return false;
      const b = readFileSync(join(src, path));
      b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 1;
      res.writeHead(200, { 'content-length': b.length }).end(b);
      return true;
    };
    const srv = await startFaultServer(src, fault);
    const c = await client(t, srv.url);
    const r = await otsRun(pullArgs(c));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Corrupted file object|Writing content object/);
    expect(r.stderr).toContain(victim.slice(8, 10));
    expect(r.stderr).toContain(srv.url);
    const csum = victim.slice(8, 10) + victim.slice(11, 73);
    expect(readdirSync(join(c, 'objects')).flatMap((p) => readdirSync(join(c, 'objects', p)).map((f) => p + f))).not.toContain(`${csum}.file`);
    expect(await ots(`--repo=${c}`, 'refs')).toBe('');
    await ostree('fsck', `--repo=${c}`);
    // Fixed on the server: the rerun succeeds and fsck passes.
    const good = await startFaultServer(src, () => false);
    await ots(`--repo=${c}`, 'remote', 'delete', 'o');
    await ots(`--repo=${c}`, 'remote', 'add', '--no-gpg-verify', 'o', good.url);
    await ots(...pullArgs(c));
    await ostree('fsck', `--repo=${c}`);
  });

  it('truncated bodies, mid-body resets and 500s are retried until they succeed', async () => {
    const t = makeTmpDir();
    const { src, commit } = await setup(t);
    const hits = new Map<string, number>();
    const fault: Fault = (_req, res, path) => {
      const n = (hits.get(path) ?? 0) + 1;
      hits.set(path, n);
      if (!path.startsWith('objects/') || n > 1 || !existsSync(join(src, path))) return false;
      const b = readFileSync(join(src, path));
      const kind = path.endsWith('.filez') ? (b.length % 3) : 2;
      if (kind === 0) { res.writeHead(200, { 'content-length': b.length }); res.write(b.subarray(0, b.length >> 1)); res.socket?.destroy(); }
      else if (kind === 1) { res.writeHead(200, { 'content-length': b.length + 7 }); res.write(b, () => res.socket?.destroy()); }
      else res.writeHead(500).end('boom');
      return true;
    };
    const srv = await startFaultServer(src, fault);
    const c = await client(t, srv.url);
    await ots(...pullArgs(c));
    expect(await ots(`--repo=${c}`, 'rev-parse', 'o:main')).toBe(`${commit}\n`);
    await ostree('fsck', `--repo=${c}`);
  });

  it('a 404 for a needed object fails with its path; a truncated response that never heals fails clearly', async () => {
    const t = makeTmpDir();
    const { src } = await setup(t);
    const missing = readdirSync(join(src, 'objects')).flatMap((p) => readdirSync(join(src, 'objects', p)).map((f) => `objects/${p}/${f}`)).find((f) => f.endsWith('.dirtree')) as string;
    const srv = await startFaultServer(src, (_req, res, path) => (path === missing ? (res.writeHead(404).end(), true) : false));
    const c = await client(t, srv.url);
    const r = await otsRun(pullArgs(c));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`HTTP 404 for ${srv.url}/${missing}`);
    await ostree('fsck', `--repo=${c}`);

    const trunc = await startFaultServer(src, (_req, res, path) => {
      if (!path.endsWith('.filez')) return false;
      const b = readFileSync(join(src, path));
      res.writeHead(200, { 'content-length': b.length + 1 }).write(b, () => res.socket?.destroy());
      return true;
    });
    const c2 = await client(t, trunc.url);
    const r2 = await otsRun(pullArgs(c2));
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/error: While fetching .*\.filez|Truncated response/);
    await ostree('fsck', `--repo=${c2}`);
  });

  it('a server killed mid-pull: the rerun resumes and fetches only what is missing', async () => {
    const t = makeTmpDir();
    const { src, commit } = await setup(t);
    let served = 0;
    const first = await startFaultServer(src, (_req, res, path) => {
      if (path.endsWith('.filez') && ++served > 10) {
        // "kill" the server: drop every connection and stop listening.
        res.socket?.destroy();
        void first.stop();
        return true;
      }
      return false;
    });
    const c = await client(t, first.url, 'archive');
    const r = await otsRun(pullArgs(c, '--max-concurrency=1'));
    expect(r.code).toBe(1);
    const stored = countObjects(c, '.filez');
    expect(stored).toBeGreaterThanOrEqual(10);
    await ostree('fsck', `--repo=${c}`);
    const second = await startFaultServer(src, () => false);
    await ots(`--repo=${c}`, 'remote', 'delete', 'o');
    await ots(`--repo=${c}`, 'remote', 'add', '--no-gpg-verify', 'o', second.url);
    await ots(...pullArgs(c));
    const total = countObjects(src, '.filez');
    expect(second.paths.filter((p) => p.endsWith('.filez')).length).toBe(total - stored);
    expect(await ots(`--repo=${c}`, 'rev-parse', 'o:main')).toBe(`${commit}\n`);
    await ostree('fsck', `--repo=${c}`);
  });

  it('a dirtree naming ../x is rejected and nothing escapes', async () => {
    const t = makeTmpDir();
    const src = join(t, 'src');
    await ots(`--repo=${src}`, 'init', '--mode=archive');
    const put = (bytes: Uint8Array, ext: string) => {
      const c = checksumOf(bytes);
      mkdirSync(join(src, 'objects', c.slice(0, 2)), { recursive: true });
      writeFileSync(join(src, 'objects', c.slice(0, 2), `${c.slice(2)}.${ext}`), bytes);
      return c;
    };
    const meta = put(encodeDirmeta({ uid: 0, gid: 0, mode: S_IFDIR | 0o755, xattrs: [] }), 'dirmeta');
    const empty = put(new Uint8Array([0]), 'dirtree');
    const good = Buffer.from(encodeDirtree({ files: [], dirs: [{ name: 'aaaa', dirtree: empty, dirmeta: meta }] }));
    good.write('../x', 0, 'utf8');
    const root = put(good, 'dirtree');
    const commit = put(encodeCommit({ metadata: [], parent: null, related: [], subject: '', body: '', timestamp: 0n, rootDirtree: root, rootDirmeta: meta }), 'commit');
    writeFileSync(join(src, 'refs/heads/main'), `${commit}\n`);
    const srv = await startFaultServer(src, () => false);
    const c = await client(t, srv.url);
    const r = await otsRun(pullArgs(c));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Invalid / in filename');
    expect(await ots(`--repo=${c}`, 'refs')).toBe('');
  });
});


