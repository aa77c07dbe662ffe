// bench/commit: commit a Debian minbase rootfs (debootstrap, ~5k files) into
// archive and bare-user repos with `ots commit` and `ostree commit`, in the
// same run, interleaved. Prints wall/CPU/peak RSS medians and ots/ostree ratios,
// and checks that both tools produced the same commit checksum.
// Run: npm run build && npx tsx bench/commit.ts [runs]
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OTS, ROOTFS, median, prepare, printTable, sh, timed, type Timed, TMP } from './lib.js';

const runs = Number(process.argv[2] ?? 3);
prepare();
const tree = `${ROOTFS}/v1`;
const files = sh('find', [tree, '-type', 'f']).split('\n').length - 1;
console.log(`tree: ${tree} (${files} regular files), ${runs} runs each, interleaved`);
const rows: Record<string, string | number>[] = [];
for (const mode of ['archive', 'bare-user']) {
  const res: Record<'ots' | 'ostree', Timed[]> = { ots: [], ostree: [] };
  const sums = new Set<string>();
  for (let i = 0; i < runs; i++) {
    for (const tool of ['ots', 'ostree'] as const) {
      const dir = mkdtempSync(`${TMP}/ots-bench-repo-`);
      const repo = join(dir, 'repo');
      const args = ['commit', '-b', 'os/x86_64', '-s', 'bench', '--timestamp=@1700000000', tree];
      if (tool === 'ots') {
        sh(OTS, [`--repo=${repo}`, 'init', `--mode=${mode}`]);
        res.ots.push(timed(OTS, [`--repo=${repo}`, ...args]));
      } else {
        sh('ostree', ['init', `--repo=${repo}`, `--mode=${mode}`]);
        res.ostree.push(timed('ostree', [`--repo=${repo}`, ...args]));
      }
      sums.add((res[tool].at(-1) as Timed).stdout.trim());
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const m = (t: 'ots' | 'ostree', k: keyof Timed) => median(res[t].map((r) => r[k] as number));
  rows.push({
    mode,
    'ots wall s': m('ots', 'wallS').toFixed(2), 'ostree wall s': m('ostree', 'wallS').toFixed(2),
    'ratio wall': (m('ots', 'wallS') / m('ostree', 'wallS')).toFixed(2),
    'ots cpu s': m('ots', 'cpuS').toFixed(2), 'ostree cpu s': m('ostree', 'cpuS').toFixed(2),
    'ots rss MB': m('ots', 'maxRssMb').toFixed(0), 'ostree rss MB': m('ostree', 'maxRssMb').toFixed(0),
    'same commit': sums.size === 1 ? 'yes' : `NO (${[...sums].join(' ')})`,
  });
}
printTable(rows);
