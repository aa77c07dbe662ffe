// Crash safety of ots admin deploy: SIGKILL at every named fault point and at
// random moments never leaves /boot/loader naming an incomplete deployment;
// stock `ostree admin status` still reads the sysroot; the next deploy and
// cleanup recover.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { diffTrees } from '../../helpers/compare-trees.js';
import { makeOsTree } from '../../helpers/os-tree.js';
import { OTS_BIN, ostree, ots } from '../../helpers/run.js';
import { makeTmpDir } from '../../helpers/tmp.js';

const FAULTS = [
  'deploy-after-checkout', 'deploy-after-etc', 'deploy-after-origin', 'deploy-kernel-0', 'deploy-kernel-1',
  'deploy-after-entries', 'deploy-after-bootlinks', 'deploy-before-swap', 'deploy-after-swap',
  'deploy-after-checkout',
];

function killedDeploy(args: string[], env: Record<string, string>, delayMs: number): Promise<NodeJS.Signals | null> {
  const child = spawn(OTS_BIN, [...args], { stdio: 'ignore', env: { ...process.env, ...env } });
  const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  return new Promise((resolve) => child.on('close', (_code, signal) => { clearTimeout(timer); resolve(signal); }));
}

it('SIGKILL at 22 points during deploy never exposes an incomplete deployment', async () => {
  const t = makeTmpDir();
  const S = join(t, 'sysroot');
  await ots('admin', 'init-fs', S);
  await ots('admin', 'os-init', `--sysroot=${S}`, 'testos');
  const repo = join(S, 'ostree/repo');
  const commits: string[] = [];
  for (let v = 1; v <= 3; v++) {
    makeOsTree(join(t, `tree${v}`), v, { kernel: `KERNEL${v}` });
    commits.push((await ots(`--repo=${repo}`, 'commit', '-b', `ref${v}`, join(t, `tree${v}`))).trim());
  }
  for (const c of commits) await ostree('checkout', `--repo=${repo}`, c, join(t, `expected-${c}`));
  await ots('admin', 'deploy', `--sysroot=${S}`, '--os=testos', commits[0] as string);
  const start = Date.now();
  await ots('admin', 'deploy', `--sysroot=${S}`, '--os=testos', '--retain', commits[1] as string);
  const duration = Date.now() - start;
  let seed = 99;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const points = [...FAULTS.map((f) => ({ fault: f, delay: 60_000 })), ...Array.from({ length: 12 }, () => ({ fault: '', delay: Math.floor(rnd() * duration * 1.3) }))];
  expect(points.length).toBeGreaterThanOrEqual(22);
  let killed = 0;
  for (const [i, p] of points.entries()) {
    const target = commits[i % 3] as string;
    const signal = await killedDeploy(['admin', 'deploy', `--sysroot=${S}`, '--os=testos', '--retain', target], p.fault ? { OSTREE_TS_TEST_FAULT: p.fault } : {}, p.delay);
    if (p.fault) expect(signal, `fault point ${p.fault} was reached`).toBe('SIGKILL');
    if (signal === 'SIGKILL') killed++;
    // Stock ostree still reads the sysroot, and every listed deployment is complete.
    const status = await ostree('admin', 'status', `--sysroot=${S}`);
    const listed = [...status.matchAll(/testos ([0-9a-f]{64})\.(\d+)/g)];
    expect(listed.length, `after ${p.fault || `kill at ${p.delay} ms`}`).toBeGreaterThan(0);
    for (const m of listed) {
      const dir = join(S, 'ostree/deploy/testos/deploy', `${m[1]}.${m[2]}`);
      const diffs = diffTrees(join(t, `expected-${m[1]}`), dir, { ownership: true }).filter((d) => !d.startsWith('etc'));
      expect(diffs, `deployment ${m[1]}.${m[2]} after ${p.fault || `kill at ${p.delay} ms`}`).toEqual([]);
      expect(existsSync(join(dir, 'etc/os-release')) || existsSync(join(dir, 'etc/motd'))).toBe(true);
    }
    const entries = readdirSync(join(S, 'boot/loader/entries'));
    for (const e of entries) {
      const linux = /^linux (\S+)$/m.exec(readFileSync(join(S, 'boot/loader/entries', e), 'utf8'))?.[1] as string;
      expect(existsSync(join(S, 'boot', linux)), `${e} names a missing kernel`).toBe(true);
    }
  }
  expect(killed).toBeGreaterThanOrEqual(15);
  // Recovery: a normal deploy and cleanup succeed and leave no partial trees behind.
  await ots('admin', 'deploy', `--sysroot=${S}`, '--os=testos', commits[2] as string);
  await ots('admin', 'cleanup', `--sysroot=${S}`);
  const left = readdirSync(join(S, 'ostree/deploy/testos/deploy'));
  expect(left.filter((n) => n.endsWith('.partial'))).toEqual([]);
  expect(readdirSync(join(S, 'boot')).filter((n) => n.startsWith('loader.'))).toHaveLength(1);
  const final = await ostree('admin', 'status', `--sysroot=${S}`);
  expect(final).toContain(commits[2]);
}, 300_000);
