// bin/ots, the launcher: starts the CLI from the V8 startup snapshot that
// `npm run build` makes (dist/ots.blob), and falls back to the ES modules
// (bin/ots.js) when the blob is missing, was made by another node binary, or
// OTS_NO_SNAPSHOT=1. The rest of the suite runs `ots` through it, so every
// command is tested from the snapshot; these tests pin down which path runs
// and that both give the same results with run-time state (cwd, environment,
// umask, uid) read at run time, not captured when the snapshot was made.
import { copyFileSync, mkdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { OTS_BIN, ostree, run, runOk } from '../../helpers/run.js';
import { makeTmpDir } from '../../helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BLOB = join(ROOT, 'dist/ots.blob');

/** The command line the launcher execs (from `sh -x`), and the run's result. */
async function launch(launcher: string, args: string[], env: Record<string, string> = {}, cwd?: string) {
  const r = await run('sh', ['-x', launcher, ...args], { env, cwd });
  const exec = r.stderr.split('\n').find((l) => l.startsWith('+ exec ')) ?? '';
  return { ...r, exec, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('+ ')).join('\n') };
}

describe('bin/ots', () => {
  it('starts from the snapshot made by the build for this node binary', async () => {
    expect(statSync(BLOB).mtimeMs).toBe(statSync(process.execPath).mtimeMs);
    const r = await launch(OTS_BIN, ['--version']);
    expect(r.exec).toContain(`--snapshot-blob ${BLOB} -- --version`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ots:\n Version: '/);
  });

  it('gives the same results from the snapshot and from the modules, with cwd, environment and umask read at run time', async () => {
    const t = makeTmpDir();
    mkdirSync(join(t, 'tree/dir'), { recursive: true });
    writeFileSync(join(t, 'tree/dir/f'), 'x');
    const out: Record<string, string[]> = {};
    for (const [name, env] of [['snapshot', {}], ['modules', { OTS_NO_SNAPSHOT: '1' }]] as const) {
      const umask = name === 'snapshot' ? '077' : '022';
      const co = `co-${name}`;
      await ostree('init', `--repo=${join(t, `repo-${name}`)}`, '--mode=bare-user');
      // A relative --repo (cwd), OSTREE_REPO (environment), and a checkout under either umask.
      const r = await run('sh', ['-c', `umask ${umask} && "$0" --repo=repo-${name} commit -b b --timestamp=@1700000000 tree && OSTREE_REPO=repo-${name} "$0" rev-parse b && "$0" --repo=repo-${name} checkout -U b ${co} && "$0" no-such-verb`, OTS_BIN],
        { env, cwd: t });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain("Unknown command 'no-such-verb'");
      const [commit, parsed] = r.stdout.trim().split('\n');
      expect(parsed).toBe(commit);
      out[name] = [commit as string, (statSync(join(t, co, 'dir/f')).mode & 0o777).toString(8)];
    }
    // Same commit either way; checked-out file modes come from the tree (0644), not from either umask.
    expect(out.snapshot).toEqual(out.modules);
    expect(out.snapshot?.[1]).toBe('644');
  });

  it('runs the modules when the blob was made by another node binary, or is missing', async () => {
    // A copy of the package's entry points, sharing dist/bundle and node_modules.
    const t = makeTmpDir();
    mkdirSync(join(t, 'bin'));
    mkdirSync(join(t, 'dist'));
    copyFileSync(OTS_BIN, join(t, 'bin/ots'));
    copyFileSync(join(ROOT, 'bin/ots.js'), join(t, 'bin/ots.js'));
    symlinkSync(join(ROOT, 'dist/bundle'), join(t, 'dist/bundle'));
    symlinkSync(join(ROOT, 'node_modules'), join(t, 'node_modules'));
    symlinkSync(join(ROOT, 'package.json'), join(t, 'package.json'));
    const missing = await launch(join(t, 'bin/ots'), ['--version']);
    expect(missing.exec).toBe(`+ exec ${process.execPath} ${join(t, 'bin/ots.js')} --version`);
    expect(missing.code).toBe(0);
    copyFileSync(BLOB, join(t, 'dist/ots.blob'));
    utimesSync(join(t, 'dist/ots.blob'), new Date(2000, 0, 1), new Date(2000, 0, 1));
    const stale = await launch(join(t, 'bin/ots'), ['--version']);
    expect(stale.exec).toBe(missing.exec);
    expect(stale.stdout).toBe(missing.stdout);
    // With the right stamp the copied blob is used, and finds its files next to it.
    await runOk('touch', ['-r', process.execPath, join(t, 'dist/ots.blob')]);
    const fresh = await launch(join(t, 'bin/ots'), ['--version']);
    expect(fresh.exec).toContain('--snapshot-blob');
    expect(fresh.stdout).toBe(missing.stdout);
  });
});
