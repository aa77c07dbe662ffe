// Serve and pull, both ways: stock ostree pulls from ots-server; ots pulls
// from nginx and from ots-server; every client repo passes real ostree fsck
// and checks out to the source tree; an update fetches only changed objects.
import { existsSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readXattrSync } from '../../../shared/repo/xattr-io.js';
import { diffTrees } from '../../helpers/compare-trees.js';
import { ostree, ots, otsRun, run } from '../../helpers/run.js';
import { makeSampleTree } from '../../helpers/sample-tree.js';
import { startNginx, startOtsServer } from '../../helpers/servers.js';
import { makeTmpDir } from '../../helpers/tmp.js';

type Tool = 'ots' | 'ostree';
const tool = (t: Tool, repo: string) => (...args: string[]) => (t === 'ots' ? ots(`--repo=${repo}`, ...args) : ostree(`--repo=${repo}`, ...args));

/** A source archive repo with `n` commits of the sample tree on os/main, made by `maker`. */
async function makeSource(t: string, maker: Tool, n: number): Promise<string[]> {
  const repo = join(t, 'src-repo');
  const run = tool(maker, repo);
  await run('init', '--mode=archive');
  const commits: string[] = [];
  for (let i = 0; i < n; i++) {
    makeSampleTree(join(t, `tree${i}`), { variant: i });
    commits.push((await run('commit', '-b', 'os/main', `--timestamp=@${1700000000 + i}`, join(t, `tree${i}`))).trim());
  }
  await run('summary', '-u');
  return commits;
}

describe.each(['archive', 'bare-user'] as const)('into %s', (mode) => {
  const co = mode === 'bare-user' ? ['-U'] : [];
  const cmp = mode === 'bare-user' ? { modeMask: 0o777 } : { ownership: true, xattrs: true };

  it.each(['ots', 'ostree'] as const)('stock ostree pulls a repo made by %s from ots-server, with --depth=-1', async (maker) => {
    const t = makeTmpDir();
    const commits = await makeSource(t, maker, 3);
    const srv = await startOtsServer(join(t, 'src-repo'));
    const client = join(t, 'client');
    await ostree('init', `--repo=${client}`, `--mode=${mode}`);
    await ostree('remote', 'add', `--repo=${client}`, '--no-gpg-verify', 'o', srv.url);
    await ostree('pull', `--repo=${client}`, '--depth=-1', 'o', 'os/main');
    await ostree('fsck', `--repo=${client}`);
    expect((await ostree('log', `--repo=${client}`, 'o:os/main')).match(/^commit /gm)?.length).toBe(3);
    await ostree('checkout', `--repo=${client}`, ...co, commits[2] as string, join(t, 'out'));
    expect(diffTrees(join(t, 'tree2'), join(t, 'out'), cmp)).toEqual([]);
  });

  it('ots pulls an ostree-made repo from nginx; an update fetches only the changed objects', async () => {
    const t = makeTmpDir();
    const commits = await makeSource(t, 'ostree', 1);
    const nginx = await startNginx(join(t, 'src-repo'), join(t, 'nginx'));
    const client = join(t, 'client');
    await ots(`--repo=${client}`, 'init', `--mode=${mode}`);
    await ots(`--repo=${client}`, 'remote', 'add', '--no-gpg-verify', 'o', nginx.url);
    await ots(`--repo=${client}`, 'pull', 'o', 'os/main');
    await ostree('fsck', `--repo=${client}`);
    expect(await ots(`--repo=${client}`, 'rev-parse', 'o:os/main')).toBe(`${commits[0]}\n`);
    await ots(`--repo=${client}`, 'checkout', ...co, 'o:os/main', join(t, 'out0'));
    expect(diffTrees(join(t, 'tree0'), join(t, 'out0'), cmp)).toEqual([]);

    // Second version: a few files change; the pull must fetch exactly the content objects that are new.
    makeSampleTree(join(t, 'tree1'), { variant: 1 });
    const c1 = (await ostree('commit', `--repo=${join(t, 'src-repo')}`, '-b', 'os/main', '--timestamp=@1700000001', join(t, 'tree1'))).trim();
    await ostree('summary', `--repo=${join(t, 'src-repo')}`, '-u');
    const contentOf = async (c: string) => new Set((await ostree('ls', `--repo=${join(t, 'src-repo')}`, '-R', '-C', c))
      .split('\n').filter((l) => l.startsWith('-') || l.startsWith('l')).map((l) => l.split(/\s+/)[4]));
    const old = await contentOf(commits[0] as string);
    const changed = [...(await contentOf(c1))].filter((c) => !old.has(c)).length;
    expect(changed).toBeGreaterThanOrEqual(2);
    const before = nginx.accessLog().length;
    const out = JSON.parse((await ots(`--repo=${client}`, 'pull', '--json', 'o', 'os/main')).trim().split('\n').pop() as string) as { contentFetched: number };
    const objectGets = nginx.accessLog().slice(before).filter((l) => l.includes('.filez'));
    expect(out.contentFetched).toBe(changed);
    expect(objectGets.length).toBe(changed);
    await ostree('fsck', `--repo=${client}`);
    await ots(`--repo=${client}`, 'checkout', ...co, c1, join(t, 'out1'));
    expect(diffTrees(join(t, 'tree1'), join(t, 'out1'), cmp)).toEqual([]);
  });

  it('ots pulls an ots-made repo from ots-server with --depth=-1', async () => {
    const t = makeTmpDir();
    const commits = await makeSource(t, 'ots', 2);
    const srv = await startOtsServer(join(t, 'src-repo'));
    const client = join(t, 'client');
    await ots(`--repo=${client}`, 'init', `--mode=${mode}`);
    await ots(`--repo=${client}`, 'remote', 'add', '--no-gpg-verify', 'o', srv.url);
    await ots(`--repo=${client}`, 'pull', '--depth=-1', 'o', 'os/main');
    // The parent came whole too: no commit is left marked partial, so fsck checks both trees.
    expect(readdirSync(join(client, 'state')).filter((n) => n.endsWith('.commitpartial'))).toEqual([]);
    await ostree('fsck', `--repo=${client}`);
    const log = await ostree('log', `--repo=${client}`, 'o:os/main');
    for (const c of commits) expect(log).toContain(c);
  });
});

describe('pull by commit checksum', () => {
  it('ots pull REMOTE CHECKSUM fetches that commit (an older one too) and writes no ref, as ostree does', async () => {
    const t = makeTmpDir();
    const commits = await makeSource(t, 'ostree', 2);
    const srv = await startOtsServer(join(t, 'src-repo'));
    const client = join(t, 'client');
    await ots(`--repo=${client}`, 'init', '--mode=bare-user');
    await ots(`--repo=${client}`, 'remote', 'add', '--no-gpg-verify', 'o', srv.url);
    await ots(`--repo=${client}`, 'pull', 'o', commits[0] as string);
    expect((await ots(`--repo=${client}`, 'refs')).trim()).toBe('');
    await ostree('fsck', `--repo=${client}`);
    await ots(`--repo=${client}`, 'checkout', '-U', commits[0] as string, join(t, 'out'));
    expect(diffTrees(join(t, 'tree0'), join(t, 'out'), { modeMask: 0o777 })).toEqual([]);
    // A checksum the remote does not have: the commit object is missing, named in the error.
    const bad = await otsRun([`--repo=${client}`, 'pull', 'o', 'f'.repeat(64)]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`objects/ff/${'f'.repeat(62)}.commit`);
  });
});

describe('remote verbs', () => {
  it('remote add/list/show-url/refs/delete', async () => {
    const t = makeTmpDir();
    await makeSource(t, 'ots', 1);
    const srv = await startOtsServer(join(t, 'src-repo'));
    const client = join(t, 'client');
    await ots(`--repo=${client}`, 'init', '--mode=archive');
    await ots(`--repo=${client}`, 'remote', 'add', '--no-gpg-verify', 'o', srv.url);
    expect(await ots(`--repo=${client}`, 'remote', 'list')).toBe('o\n');
    expect(await ots(`--repo=${client}`, 'remote', 'show-url', 'o')).toBe(`${srv.url}\n`);
    expect(await ots(`--repo=${client}`, 'remote', 'refs', 'o')).toBe('o:os/main\n');
    // ostree reads the remote we wrote.
    expect(await ostree('remote', 'show-url', `--repo=${client}`, 'o')).toBe(`${srv.url}\n`);
    // --force replaces, as ostree's does; --if-not-exists keeps.
    await ots(`--repo=${client}`, 'remote', 'add', '--if-not-exists', '--no-gpg-verify', 'o', 'http://127.0.0.1:9/');
    expect(await ots(`--repo=${client}`, 'remote', 'show-url', 'o')).toBe(`${srv.url}\n`);
    await ots(`--repo=${client}`, 'remote', 'add', '--force', '--no-gpg-verify', '--collection-id=org.example.Os', 'o', 'http://127.0.0.1:9/');
    expect(await ostree('remote', 'show-url', `--repo=${client}`, 'o')).toBe('http://127.0.0.1:9/\n');
    expect(await ostree('config', `--repo=${client}`, 'get', '--group=remote "o"', 'collection-id')).toBe('org.example.Os\n');
    await ots(`--repo=${client}`, 'remote', 'delete', 'o');
    expect(await ots(`--repo=${client}`, 'remote', 'list')).toBe('');
    // --sysroot=S names S/ostree/repo.
    await ots('admin', 'init-fs', join(t, 'sysroot'));
    await ots('remote', 'add', `--sysroot=${join(t, 'sysroot')}`, '--no-gpg-verify', 'os', srv.url);
    expect(await ostree('remote', 'show-url', `--repo=${join(t, 'sysroot/ostree/repo')}`, 'os')).toBe(`${srv.url}\n`);
  });

  it('contenturl: objects and deltas come from it, config, summary and refs from url — as stock ostree pulls them', async () => {
    const t = makeTmpDir();
    const commits = await makeSource(t, 'ostree', 2);
    await ostree('static-delta', 'generate', `--repo=${join(t, 'src-repo')}`, `--from=${commits[0] as string}`, `--to=${commits[1] as string}`);
    await ostree('summary', `--repo=${join(t, 'src-repo')}`, '-u');
    // The "metadata" server has everything but objects and deltas; the "content" server has all.
    await run('cp', ['-a', join(t, 'src-repo'), join(t, 'meta-repo')]);
    for (const d of ['objects', 'deltas']) await run('sh', ['-c', `rm -rf ${join(t, 'meta-repo', d)}/*`]);
    const meta = await startNginx(join(t, 'meta-repo'), join(t, 'nginx-meta'));
    const content = await startNginx(join(t, 'src-repo'), join(t, 'nginx-content'));
    try {
      for (const who of ['ots', 'ostree'] as const) {
        const client = join(t, `client-${who}`);
        const r = tool(who, client);
        await r('init', '--mode=bare-user');
        await r('remote', 'add', '--no-gpg-verify', `--contenturl=${content.url}`, 'o', meta.url);
        await r('pull', 'o', `os/main@${commits[0] as string}`);
        await r('pull', 'o', 'os/main'); // through the delta
        await ostree('fsck', `--repo=${client}`);
        expect(await ostree('rev-parse', `--repo=${client}`, 'o:os/main')).toBe(`${commits[1] as string}\n`);
      }
      // Successful GETs of the clients; the helper's readiness probe (fetch, user agent "node") is not one.
      const fetched = (log: string[]) => log.filter((l) => / 200 /.test(l) && !l.endsWith('"node"')).map((l) => /"GET \/(\S+)/.exec(l)?.[1] ?? '');
      expect(fetched(meta.accessLog()).filter((p) => p.startsWith('objects/') && !p.endsWith('.commitmeta'))).toEqual([]);
      expect(fetched(content.accessLog()).some((p) => p.startsWith('deltas/'))).toBe(true);
      expect(fetched(content.accessLog()).filter((p) => p === 'summary' || p === 'config' || p.startsWith('refs/'))).toEqual([]);
    } finally {
      await meta.stop();
      await content.stop();
    }
  });
});

describe('summary cache', () => {
  it('keeps the summary with its ETag and revalidates it (304); one served in the second it was written is not kept', async () => {
    const t = makeTmpDir();
    const commits = await makeSource(t, 'ostree', 1);
    const summary = join(t, 'src-repo/summary');
    const nginx = await startNginx(join(t, 'src-repo'), join(t, 'nginx'));
    const client = join(t, 'client');
    await ots(`--repo=${client}`, 'init', '--mode=archive');
    await ots(`--repo=${client}`, 'remote', 'add', '--no-gpg-verify', 'o', nginx.url);
    const cache = join(client, 'tmp/cache/summaries/o');
    const summaryStatuses = () => nginx.accessLog().filter((l) => l.includes('GET /summary ')).map((l) => Number(/" (\d{3}) /.exec(l)?.[1]));

    // Written "now" (its mtime a little ahead of the server's clock): racy, so not cached.
    const soon = new Date(Date.now() + 10_000);
    utimesSync(summary, soon, soon);
    await ots(`--repo=${client}`, 'pull', 'o', 'os/main');
    expect(existsSync(cache)).toBe(false);

    // Written a while ago: cached with nginx's ETag, then revalidated with a 304.
    const past = new Date(Date.now() - 60_000);
    utimesSync(summary, past, past);
    await ots(`--repo=${client}`, 'pull', 'o', 'os/main');
    expect(readXattrSync(cache, 'user.etag')).toBeDefined();
    await ots(`--repo=${client}`, 'pull', 'o', 'os/main');
    expect(summaryStatuses()).toEqual([200, 200, 304]);
    expect(await ots(`--repo=${client}`, 'rev-parse', 'o:os/main')).toBe(`${commits[0]}\n`);
  });
});
