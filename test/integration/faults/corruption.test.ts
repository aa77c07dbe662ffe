// Bad input: corrupt objects are all reported by ots fsck (and ostree agrees
// the repo is bad); structurally hostile objects with valid checksums are
// rejected with typed errors; hostile tarballs store nothing.
import { createWriteStream, readFileSync, readdirSync, truncateSync, writeFileSync, symlinkSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { checksumOf, encodeDirtree, encodeCommit, encodeDirmeta, S_IFDIR, type Checksum } from '../../../shared/objects/index.js';
import { ots, otsRun, run } from '../../helpers/run.js';
import { makeSampleTree } from '../../helpers/sample-tree.js';
import { makeTmpDir } from '../../helpers/tmp.js';

function objectFiles(repo: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync(join(repo, 'objects'))) for (const n of readdirSync(join(repo, 'objects', p))) out.push(join(repo, 'objects', p, n));
  return out.sort();
}

function flipByte(path: string, at: (len: number) => number): void {
  const b = readFileSync(path);
  const i = at(b.length);
  b[i] = (b[i] ?? 0) ^ 0x5a;
  writeFileSync(path, b);
}

describe.each(['archive', 'bare-user'] as const)('%s: corruption', (mode) => {
  it('ots fsck reports every corrupt object and exits non-zero', async () => {
    const t = makeTmpDir();
    makeSampleTree(join(t, 'src'));
    const repo = join(t, 'repo');
    await ots(`--repo=${repo}`, 'init', `--mode=${mode}`);
    await ots(`--repo=${repo}`, 'commit', '-b', 'main', join(t, 'src'));
    const files = objectFiles(repo);
    const pick = (ext: string, n: number) => files.filter((f) => f.endsWith(ext)).slice(0, n);
    const contentExt = mode === 'archive' ? '.filez' : '.file';
    const victims = [...pick('.dirtree', 2), ...pick('.dirmeta', 1), ...pick(contentExt, 3)];
    for (const v of victims) flipByte(v, (len) => len - 1);
    const truncated = files.filter((f) => f.endsWith(contentExt)).find((f) => readFileSync(f).length > 1000 && !victims.includes(f));
    if (truncated === undefined) throw new Error('no large content object in the sample tree');
    truncateSync(truncated, 600);
    const r = await otsRun([`--repo=${repo}`, 'fsck', '--json']);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout) as { problems: { checksum: string; code: string }[] };
    const named = new Set(result.problems.map((p) => p.checksum));
    for (const v of [...victims, truncated]) {
      const rel = v.slice(join(repo, 'objects').length + 1);
      expect(named, `fsck should name ${rel}`).toContain(rel.slice(0, 2) + rel.slice(3, rel.indexOf('.')));
    }
    expect((await run('ostree', ['fsck', `--repo=${repo}`])).code).not.toBe(0);
  });
});

describe('hostile objects with valid checksums', () => {
  async function repoWithTree(t: string, dirtreeBytes: Uint8Array, dirmetaBytes?: Uint8Array): Promise<string> {
    const repo = join(t, 'repo');
    await ots(`--repo=${repo}`, 'init', '--mode=archive');
    const put = (bytes: Uint8Array, ext: string): Checksum => {
      const c = checksumOf(bytes);
      mkdirSync(join(repo, 'objects', c.slice(0, 2)), { recursive: true });
      writeFileSync(join(repo, 'objects', c.slice(0, 2), `${c.slice(2)}.${ext}`), bytes);
      return c;
    };
    const meta = put(dirmetaBytes ?? encodeDirmeta({ uid: 0, gid: 0, mode: S_IFDIR | 0o755, xattrs: [] }), 'dirmeta');
    const tree = put(dirtreeBytes, 'dirtree');
    const commit = put(encodeCommit({ metadata: [], parent: null, related: [], subject: 's', body: '', timestamp: 0n, rootDirtree: tree, rootDirmeta: meta }), 'commit');
    writeFileSync(join(repo, 'refs/heads/evil'), `${commit}\n`);
    return repo;
  }

  it.each([['..'], ['a/b'], ['.']])('a dirtree entry named %j is rejected by fsck and checkout', async (name) => {
    const t = makeTmpDir();
    const empty = checksumOf(new Uint8Array([0]));
    const good = encodeDirtree({ files: [], dirs: [{ name: 'x'.repeat(name.length), dirtree: empty, dirmeta: empty }] });
    const evil = Buffer.from(good);
    evil.write(name, 0, 'utf8');
    const repo = await repoWithTree(t, evil);
    const f = await otsRun([`--repo=${repo}`, 'fsck', '--json']);
    expect(f.code).toBe(1);
    expect(f.stdout).toContain('ERR_UNSAFE_PATH');
    const c = await otsRun([`--repo=${repo}`, 'checkout', 'evil', join(t, 'out')]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/Invalid .*filename/);
    expect(existsSync(join(t, 'x'))).toBe(false);
  });

  it('a non-normal dirmeta is rejected with ERR_NOT_NORMAL_FORM or ERR_BAD_FORMAT naming it', async () => {
    const t = makeTmpDir();
    const nonNormal = Buffer.concat([encodeDirmeta({ uid: 0, gid: 0, mode: S_IFDIR | 0o755, xattrs: [] }), Buffer.from([0, 0, 0, 0])]);
    const repo = await repoWithTree(t, new Uint8Array([0]), nonNormal);
    const f = await otsRun([`--repo=${repo}`, 'fsck', '--json']);
    expect(f.code).toBe(1);
    const problems = (JSON.parse(f.stdout) as { problems: { checksum: string; code: string }[] }).problems;
    expect(problems).toContainEqual(expect.objectContaining({ checksum: checksumOf(nonNormal), code: expect.stringMatching(/ERR_NOT_NORMAL_FORM|ERR_BAD_FORMAT/) }));
  });
});

describe('hostile trees and tarballs', () => {
  it('a tar entry escaping the root is refused and nothing is stored', async () => {
    const t = makeTmpDir();
    const repo = join(t, 'repo');
    await ots(`--repo=${repo}`, 'init', '--mode=archive');
    const p = pack();
    p.entry({ name: 'ok.txt' }, 'fine');
    p.entry({ name: 'sub/../../evil' }, 'escape');
    p.finalize();
    await pipeline(p, createWriteStream(join(t, 'evil.tar')));
    const r = await otsRun([`--repo=${repo}`, 'commit', '-b', 'x', '--tree=tar=' + join(t, 'evil.tar')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('escapes the tree root');
    expect(objectFiles(repo)).toEqual([]);
    expect(readdirSync(join(repo, 'tmp')).filter((n) => n.startsWith('staging'))).toEqual([]);
    expect(existsSync(join(repo, 'refs/heads/x'))).toBe(false);
  });

  it('a tarball commit round-trips through ostree checkout', async () => {
    const t = makeTmpDir();
    const repo = join(t, 'repo');
    await ots(`--repo=${repo}`, 'init', '--mode=archive');
    const p = pack();
    p.entry({ name: 'etc/', type: 'directory', mode: 0o755 });
    p.entry({ name: 'etc/motd', mode: 0o644 }, 'hello\n');
    p.entry({ name: 'bin/tool', mode: 0o4755 }, 'tool');
    p.entry({ name: 'bin/link', type: 'symlink', linkname: 'tool' });
    p.entry({ name: 'bin/hard', type: 'link', linkname: 'bin/tool' });
    p.finalize();
    await pipeline(p, createWriteStream(join(t, 'ok.tar')));
    await ots(`--repo=${repo}`, 'commit', '-b', 'x', `--tree=tar=${join(t, 'ok.tar')}`);
    await run('ostree', ['fsck', `--repo=${repo}`]).then((r) => expect(r.code).toBe(0));
    const ls = await ots(`--repo=${repo}`, 'ls', '-R', 'x');
    expect(ls).toContain('-04755 0 0      4 /bin/tool');
    expect(ls).toContain('-04755 0 0      4 /bin/hard');
    expect(ls).toContain('/bin/link -> tool');
  });

  it('symlink loops are stored as links, and checkout never writes through a symlink', async () => {
    const t = makeTmpDir();
    mkdirSync(join(t, 'src/dir'), { recursive: true });
    symlinkSync('b', join(t, 'src/a'));
    symlinkSync('a', join(t, 'src/b'));
    writeFileSync(join(t, 'src/dir/file'), 'x');
    const repo = join(t, 'repo');
    await ots(`--repo=${repo}`, 'init', '--mode=archive');
    await ots(`--repo=${repo}`, 'commit', '-b', 'loop', join(t, 'src'));
    await ots(`--repo=${repo}`, 'checkout', 'loop', join(t, 'out'));
    expect(readdirSync(join(t, 'out')).sort()).toEqual(['a', 'b', 'dir']);
    // A destination whose "dir" is a symlink to somewhere else must not be followed.
    mkdirSync(join(t, 'elsewhere'));
    mkdirSync(join(t, 'out2'));
    symlinkSync(join(t, 'elsewhere'), join(t, 'out2/dir'));
    const r = await otsRun([`--repo=${repo}`, 'checkout', '--union', 'loop', join(t, 'out2')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('symlink');
    expect(readdirSync(join(t, 'elsewhere'))).toEqual([]);
  });
});
