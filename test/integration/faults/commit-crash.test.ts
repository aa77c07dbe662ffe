// Crash safety: `ots commit` killed with SIGKILL at random moments and at each
// named fault point leaves a repository that real `ostree fsck` accepts, with
// the branch at the old or the new commit, and a rerun completes.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { OTS_BIN, ostree, ots, run } from '../../helpers/run.js';
import { makeTmpDir } from '../../helpers/tmp.js';

function makeTree(dir: string, variant: number): void {
  for (let d = 0; d < 10; d++) {
    mkdirSync(join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < 60; f++) writeFileSync(join(dir, `d${d}`, `f${f}`), `v${variant} ${d}/${f} `.repeat(50 + f));
  }
}

async function commitKilledAfter(repo: string, src: string, delayMs: number, env: Record<string, string> = {}): Promise<void> {
  const child = spawn(OTS_BIN, [`--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1700000000', src], {
    stdio: 'ignore', env: { ...process.env, ...env },
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(timer);
}

async function readMain(repo: string): Promise<string | null> {
  const r = await run('ostree', ['rev-parse', `--repo=${repo}`, 'main']);
  return r.code === 0 ? r.stdout.trim() : null;
}

describe.each(['archive', 'bare-user'] as const)('%s: commit crash safety', (mode) => {
  it('random SIGKILLs and fault points never corrupt the repo or half-move the ref', async () => {
    const t = makeTmpDir();
    const repo = join(t, 'repo');
    await ots(`--repo=${repo}`, 'init', `--mode=${mode}`);
    makeTree(join(t, 'v0'), 0);
    const start = Date.now();
    const first = (await ots(`--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1700000000', join(t, 'v0'))).trim();
    const duration = Date.now() - start;
    const expectedCommits = new Set([first]);
    let seed = 1234;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const faults = ['transaction-before-sync', 'transaction-mid-rename', 'transaction-before-refs'];
    const randomRounds = 8;
    const rounds = randomRounds + faults.length;
    for (let i = 1; i <= rounds; i++) {
      const src = join(t, `v${i}`);
      makeTree(src, i);
      const before = await readMain(repo);
      const fault = faults[i - randomRounds - 1];
      await commitKilledAfter(repo, src, fault ? 60_000 : Math.floor(rnd() * duration * 1.2), fault ? { OSTREE_TS_TEST_FAULT: fault } : {});
      await ostree('fsck', `--repo=${repo}`);
      const after = await readMain(repo);
      // The ref is the old commit or a new, complete one (fsck above walked it).
      if (after !== before) expect(after).not.toBeNull();
      if (after !== null) expectedCommits.add(after);
      // A rerun of the same commit completes and gives a stable checksum.
      const rerun = (await ots(`--repo=${repo}`, 'commit', '-b', 'main', '--timestamp=@1700000000', '--parent', after ?? first, src)).trim();
      expect(await readMain(repo)).toBe(rerun);
      await ostree('fsck', `--repo=${repo}`);
    }
    expect(expectedCommits.size).toBeGreaterThan(1);
    // Staging dirs of the killed commits were reclaimed by the later ones.
    expect(readdirSync(join(repo, 'tmp')).filter((n) => n.startsWith('staging-'))).toEqual([]);
  }, 300_000);
});
