// ots prune against stock ostree prune on the same repositories, and the
// repository lock (.lock, OFD locks) shared between both tools.
import { closeSync, existsSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeSys } from '../../../shared/native/sys.js';
import { ostree, ots, otsRun, run } from '../../helpers/run.js';
import { diffTrees } from '../../helpers/compare-trees.js';
import { makeSampleTree } from '../../helpers/sample-tree.js';
import { startOtsServer } from '../../helpers/servers.js';
import { makeTmpDir } from '../../helpers/tmp.js';

function objectFiles(repo: string): string[] {
  return readdirSync(join(repo, 'objects')).flatMap((p) => readdirSync(join(repo, 'objects', p)).map((n) => `${p}/${n}`)).sort();
}

/** A repo with three commits on `main` (each changing a file), an orphan commit, and a delta to the orphan. */
async function repoWithHistory(t: string, mode: string): Promise<{ repo: string; commits: string[]; orphan: string }> {
  const repo = join(t, 'repo');
  await ostree('init', `--repo=${repo}`, `--mode=${mode}`);
  const commits: string[] = [];
  for (let v = 0; v < 3; v++) {
    makeSampleTree(join(t, `src${v}`), { variant: v });
    commits.push((await ostree('commit', `--repo=${repo}`, '-b', 'main', `--timestamp=@${1700000000 + v}`, join(t, `src${v}`))).trim());
  }
  makeSampleTree(join(t, 'other'), { variant: 7 });
  const orphan = (await ostree('commit', `--repo=${repo}`, '-b', 'tmp', '--timestamp=@1700000100', join(t, 'other'))).trim();
  await ostree('static-delta', 'generate', `--repo=${repo}`, '--from=main', `--to=${orphan}`);
  await ostree('refs', `--repo=${repo}`, '--delete', 'tmp');
  return { repo, commits, orphan };
}

async function copyRepo(from: string, to: string): Promise<void> {
  await run('cp', ['-a', from, to]);
}

describe.each(['archive', 'bare-user'])('ots prune, %s', (mode) => {
  it.each([
    ['--refs-only --depth=0', ['--refs-only', '--depth=0']],
    ['--refs-only (all history)', ['--refs-only']],
    ['all commits as roots', []],
  ])('deletes what ostree prune deletes: %s', async (_label, flags) => {
    const t = makeTmpDir();
    const { repo, commits, orphan } = await repoWithHistory(t, mode);
    const theirs = join(t, 'theirs');
    await copyRepo(repo, theirs);
    // The dry runs agree on counts and size, in ostree's words.
    const dryOurs = await ots(`--repo=${repo}`, 'prune', '--no-prune', ...flags);
    const dryTheirs = await ostree('prune', `--repo=${theirs}`, '--no-prune', ...flags);
    expect(dryOurs).toBe(dryTheirs);
    expect(objectFiles(repo)).toEqual(objectFiles(theirs));
    // Real runs leave the same objects; stock fsck accepts ours and finds nothing more to prune.
    expect(await ots(`--repo=${repo}`, 'prune', ...flags)).toBe(await ostree('prune', `--repo=${theirs}`, ...flags));
    expect(objectFiles(repo)).toEqual(objectFiles(theirs));
    await ostree('fsck', `--repo=${repo}`);
    expect(await ostree('prune', `--repo=${repo}`, '--no-prune', ...flags)).toContain('No unreachable objects');
    if (flags.includes('--refs-only')) {
      // The orphan commit went, with the delta that led to it.
      expect(existsSync(join(repo, 'objects', orphan.slice(0, 2), `${orphan.slice(2)}.commit`))).toBe(false);
      expect(await ots(`--repo=${repo}`, 'static-delta', 'list')).not.toContain(orphan);
      expect(await ostree('static-delta', 'list', `--repo=${theirs}`)).not.toContain(orphan);
    }
    if (flags.includes('--depth=0')) {
      expect(existsSync(join(repo, 'objects', commits[0]!.slice(0, 2), `${commits[0]!.slice(2)}.commit`))).toBe(false);
    }
    expect(existsSync(join(repo, 'objects', commits[2]!.slice(0, 2), `${commits[2]!.slice(2)}.commit`))).toBe(true);
  });
});

describe('ots prune with partial commits', () => {
  it('keeps a commit pulled metadata-only (its missing tree is not an error) and agrees with ostree prune', async () => {
    const t = makeTmpDir();
    const { repo, commits } = await repoWithHistory(t, 'archive');
    const srv = await startOtsServer(repo);
    const client = join(t, 'client');
    await ots(`--repo=${client}`, 'init', '--mode=archive');
    await ots(`--repo=${client}`, 'remote', 'add', '--no-gpg-verify', 'o', srv.url);
    await ots(`--repo=${client}`, 'pull', 'o', `main@${commits[1] as string}`);
    await ots(`--repo=${client}`, 'pull', '--commit-metadata-only', 'o', 'main');
    expect(existsSync(join(client, 'state', `${commits[2] as string}.commitpartial`))).toBe(true);
    const theirs = join(t, 'theirs');
    await copyRepo(client, theirs);
    const flags = ['--refs-only', '--depth=0'];
    const ours = await ots(`--repo=${client}`, 'prune', ...flags);
    const stock = await ostree('prune', `--repo=${theirs}`, ...flags);
    expect(objectFiles(client)).toEqual(objectFiles(theirs));
    expect(ours).toBe(stock);
    expect(existsSync(join(client, 'objects', commits[2]!.slice(0, 2), `${commits[2]!.slice(2)}.commit`))).toBe(true);
    await ostree('fsck', `--repo=${client}`);
    // A full pull afterwards completes the commit (it was not taken for complete).
    await ots(`--repo=${client}`, 'pull', 'o', 'main');
    expect(existsSync(join(client, 'state', `${commits[2] as string}.commitpartial`))).toBe(false);
    await ostree('checkout', `--repo=${client}`, 'o:main', join(t, 'co'));
    expect(diffTrees(join(t, 'src2'), join(t, 'co'), { modeMask: 0o777 })).toEqual([]);
  });
});

describe('repository lock', () => {
  const native = nativeSys();

  it('a shared lock (a transaction, ours or held here) makes ostree prune wait; an exclusive one makes ots commit wait', async () => {
    expect(native, 'native helper missing: run npm ci').not.toBeNull();
    const t = makeTmpDir();
    const repo = join(t, 'repo');
    await ots(`--repo=${repo}`, 'init', '--mode=archive');
    makeSampleTree(join(t, 'src'));
    await run('sh', ['-c', `printf '[core]\\nlock-timeout-secs=1\\n' >> ${repo}/config`]);
    const fd = openSync(join(repo, '.lock'), 'a+');
    try {
      // What an ots transaction holds: stock prune cannot take its exclusive lock.
      expect(native!.lock(fd, 1)).toBe(true);
      const prune = await run('ostree', ['prune', `--repo=${repo}`, '--refs-only']);
      expect(prune.code).not.toBe(0);
      expect(prune.stderr).toMatch(/lock/i);
      // What a prune holds: an ots commit waits, then fails naming the lock.
      expect(native!.lock(fd, 2)).toBe(true);
      const commit = await otsRun([`--repo=${repo}`, 'commit', '-b', 'main', join(t, 'src')]);
      expect(commit.code).not.toBe(0);
      expect(commit.stderr).toMatch(/Locking repo shared failed: another process holds .*\.lock/);
      expect(objectFiles(repo)).toEqual([]);
      expect(native!.lock(fd, 0)).toBe(true);
    } finally {
      closeSync(fd);
    }
    // Released: both tools work again.
    await ots(`--repo=${repo}`, 'commit', '-b', 'main', join(t, 'src'));
    expect(await ostree('prune', `--repo=${repo}`, '--refs-only')).toContain('Total objects');
    expect(await ots(`--repo=${repo}`, 'prune', '--refs-only')).toContain('No unreachable objects');
  });
});
