// bench/mirror: `ots pull --mirror` vs `ostree pull --mirror` of a repo with
// two commits of a Debian minbase tree (v1, v2), from nginx over loopback,
// depth 0 and --depth=-1, same run.
// Run: npm run build && npx tsx bench/mirror.ts [runs]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OTS, ROOTFS, median, prepare, printTable, sh, timed, TMP } from './lib.js';
import { startNginx } from './nginx.js';

const runs = Number(process.argv[2] ?? 3);
prepare();
const work = mkdtempSync(`${TMP}/ots-bench-mirror-`);
const origin = join(work, 'origin');
sh('ostree', ['init', `--repo=${origin}`, '--mode=archive']);
sh('ostree', ['commit', `--repo=${origin}`, '-b', 'os', '--timestamp=@1700000000', `${ROOTFS}/v1`]);
sh('ostree', ['commit', `--repo=${origin}`, '-b', 'os', '--timestamp=@1700000001', `${ROOTFS}/v2`]);
sh('ostree', ['summary', `--repo=${origin}`, '-u']);
const nginx = await startNginx(origin, join(work, 'nginx'), 18950 + Math.floor(Math.random() * 40));
const lines = () => readFileSync(nginx.logPath, 'utf8').split('\n').length - 1;
const rows: Record<string, string | number>[] = [];
try {
  for (const depth of ['0', '-1']) {
    const res: Record<string, { wall: number[]; req: number[] }> = { ots: { wall: [], req: [] }, ostree: { wall: [], req: [] } };
    for (let i = 0; i < runs; i++) {
      for (const tool of ['ostree', 'ots'] as const) {
        const m = join(work, `m-${tool}-${depth}-${i}`);
        sh('ostree', ['init', `--repo=${m}`, '--mode=archive']);
        sh('ostree', ['remote', 'add', `--repo=${m}`, '--no-gpg-verify', 'o', nginx.url]);
        const before = lines();
        const t = tool === 'ots'
          ? timed(OTS, [`--repo=${m}`, 'pull', '--mirror', `--depth=${depth}`, 'o', 'os'])
          : timed('ostree', ['pull', `--repo=${m}`, '--mirror', `--depth=${depth}`, 'o', 'os']);
        res[tool]!.wall.push(t.wallS);
        res[tool]!.req.push(lines() - before);
        if (i === 0) sh('ostree', ['fsck', '--quiet', `--repo=${m}`]);
        rmSync(m, { recursive: true, force: true });
      }
    }
    const o = median(res.ostree!.wall);
    const s = median(res.ots!.wall);
    rows.push({ depth, 'ots s': s.toFixed(2), 'ostree s': o.toFixed(2), ratio: (s / o).toFixed(2), 'ots requests': median(res.ots!.req), 'ostree requests': median(res.ostree!.req) });
  }
} finally {
  await nginx.stop();
  rmSync(work, { recursive: true, force: true });
}
printTable(rows);
