// bench/pull: cold pull of a Debian minbase commit (~6k objects) over
// loopback from nginx, `ots pull` vs `ostree pull`, same server, same run,
// archive and bare-user targets. Prints wall, CPU, peak RSS, requests.
// Run: npm run build && npx tsx bench/pull.ts [runs] [concurrency...]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OTS, ROOTFS, median, prepare, printTable, sh, timed, type Timed, TMP } from './lib.js';
import { startNginx } from './nginx.js';

const runs = Number(process.argv[2] ?? 3);
const concurrencies = process.argv.slice(3).map(Number);
prepare();
const work = mkdtempSync(`${TMP}/ots-bench-pull-`);
const src = join(work, 'src');
sh('ostree', ['init', `--repo=${src}`, '--mode=archive']);
sh('ostree', ['commit', `--repo=${src}`, '-b', 'os/x86_64', '--timestamp=@1700000000', `${ROOTFS}/v1`]);
sh('ostree', ['summary', `--repo=${src}`, '-u']);
const nginx = await startNginx(src, join(work, 'nginx'), 18400 + Math.floor(Math.random() * 500));
const lines = () => readFileSync(nginx.logPath, 'utf8').split('\n').length - 1;
console.log(`source: ostree commit of ${ROOTFS}/v1 served by nginx at ${nginx.url}; ${runs} runs, interleaved`);

const variants: { name: string; cmd: (repo: string) => [string, string[]] }[] = [
  { name: 'ostree', cmd: (repo) => ['ostree', [`--repo=${repo}`, 'pull', 'o', 'os/x86_64']] },
  ...(concurrencies.length > 0 ? concurrencies : [0]).map((c) => ({
    name: c > 0 ? `ots c=${c}` : 'ots',
    cmd: (repo: string): [string, string[]] => [OTS, [`--repo=${repo}`, 'pull', ...(c > 0 ? [`--max-concurrency=${c}`] : []), 'o', 'os/x86_64']],
  })),
];
const rows: Record<string, string | number>[] = [];
try {
  for (const mode of ['bare-user', 'archive']) {
    const res = new Map<string, { t: Timed[]; req: number[] }>(variants.map((v) => [v.name, { t: [], req: [] }]));
    for (let i = 0; i < runs; i++) {
      for (const v of variants) {
        const repo = join(work, `client-${v.name.replace(/\W/g, '')}-${mode}-${i}`);
        sh('ostree', ['init', `--repo=${repo}`, `--mode=${mode}`]);
        sh('ostree', ['remote', 'add', `--repo=${repo}`, '--no-gpg-verify', 'o', nginx.url]);
        const before = lines();
        const [cmd, args] = v.cmd(repo);
        const r = res.get(v.name) as { t: Timed[]; req: number[] };
        r.t.push(timed(cmd, args));
        r.req.push(lines() - before);
        if (i === 0) sh('ostree', ['fsck', '--quiet', `--repo=${repo}`]);
        rmSync(repo, { recursive: true, force: true });
      }
    }
    const base = median((res.get('ostree') as { t: Timed[] }).t.map((x) => x.wallS));
    for (const v of variants) {
      const r = res.get(v.name) as { t: Timed[]; req: number[] };
      rows.push({
        target: mode, tool: v.name, 'wall s': median(r.t.map((x) => x.wallS)).toFixed(2),
        'ratio vs ostree': (median(r.t.map((x) => x.wallS)) / base).toFixed(2),
        'cpu s': median(r.t.map((x) => x.cpuS)).toFixed(2), 'rss MB': median(r.t.map((x) => x.maxRssMb)).toFixed(0),
        requests: median(r.req),
      });
    }
  }
} finally {
  await nginx.stop();
  rmSync(work, { recursive: true, force: true });
}
printTable(rows);
