// bench/delta: static deltas between two versions of a Debian minbase tree
// (v1 → v2 = apt upgrade + packages). Generation (wall, peak RSS, size) by
// `ots static-delta generate` vs `ostree static-delta generate`, then a delta
// pull of each into bare-user over loopback from nginx, by `ots pull` and
// `ostree pull` (wall, bytes on the wire). Same run.
// Run: npm run build && npx tsx bench/delta.ts [pull runs, default 5]
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OTS, ROOTFS, median, prepare, printTable, sh, timed, timedTree, TMP, type Timed } from './lib.js';
import { startNginx } from './nginx.js';

const runs = Number(process.argv[2] ?? 5);
prepare();
const work = mkdtempSync(`${TMP}/ots-bench-delta-`);
const dirSize = (d: string): number => readdirSync(d, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile()).reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
const rows: Record<string, string | number>[] = [];
try {
  const base = join(work, 'base');
  sh('ostree', ['init', `--repo=${base}`, '--mode=archive']);
  const a = sh('ostree', ['commit', `--repo=${base}`, '-b', 'os', '--timestamp=@1700000000', `${ROOTFS}/v1`]).trim();
  const b = sh('ostree', ['commit', `--repo=${base}`, '-b', 'os', '--timestamp=@1700000001', `${ROOTFS}/v2`]).trim();
  const gens: { name: string; repo: string; cmd: [string, string[]] }[] = [];
  for (const [name, cmd] of [
    ['ostree (xz)', (r: string): [string, string[]] => ['ostree', ['static-delta', 'generate', `--repo=${r}`, `--from=${a}`, `--to=${b}`]]],
    ['ots (xz)', (r: string): [string, string[]] => [OTS, [`--repo=${r}`, 'static-delta', 'generate', `--from=${a}`, `--to=${b}`]]],
  ] as const) {
    const repo = join(work, name.replace(/\W/g, ''));
    cpSync(base, repo, { recursive: true });
    gens.push({ name, repo, cmd: cmd(repo) });
  }
  const results = new Map<string, { wall: number; rss: number; size: number }>();
  for (const g of gens) {
    console.log(`generating: ${g.name}`);
    // Peak RSS summed over the process tree: ots runs xz processes next to itself.
    const t = await timedTree(...g.cmd);
    sh('ostree', ['summary', `--repo=${g.repo}`, '-u']);
    results.set(g.name, { wall: t.wallS, rss: t.treeRssMb, size: dirSize(join(g.repo, 'deltas')) });
  }
  const ref = results.get('ostree (xz)') as { wall: number; rss: number; size: number };
  for (const [name, r] of results) {
    rows.push({ step: `generate ${name}`, 'wall s': r.wall.toFixed(1), 'rss MB (tree)': r.rss.toFixed(0), 'delta MB': (r.size / 1e6).toFixed(1),
      'ratio wall': (r.wall / ref.wall).toFixed(2), 'ratio rss': (r.rss / ref.rss).toFixed(2), 'ratio size': (r.size / ref.size).toFixed(2) });
  }
  // The same repo with our zstd variant published beside the xz delta (and its summary key,
  // which `ots summary -u` writes): stock clients pull the xz delta, ots prefers zstd.
  {
    const xz = gens.find((g) => g.name === 'ots (xz)') as (typeof gens)[number];
    const repo = join(work, 'ots-xz-zstd');
    cpSync(xz.repo, repo, { recursive: true });
    console.log('generating: ots (zstd variant)');
    const t = timed(OTS, [`--repo=${repo}`, 'static-delta', 'generate', '--compression=zstd', `--from=${a}`, `--to=${b}`]);
    sh(OTS, [`--repo=${repo}`, 'summary', '-u']);
    const zsize = dirSize(join(repo, 'deltas-zstd'));
    const xsize = results.get('ots (xz)')?.size ?? 1;
    rows.push({ step: 'generate ots (zstd variant)', 'wall s': t.wallS.toFixed(1), 'rss MB (tree)': t.maxRssMb.toFixed(0), 'delta MB': (zsize / 1e6).toFixed(1),
      'ratio wall': (t.wallS / ref.wall).toFixed(2), 'ratio rss': '', 'ratio size': `${(zsize / xsize).toFixed(2)} of ots xz` });
    gens.push({ name: 'ots (xz + zstd variant)', repo, cmd: xz.cmd });
  }
  // Pulls: `runs` times each (interleaved), medians. The client gets the FROM commit by a
  // stock pull, then everything is synced, so neither tool's final syncfs also pays for
  // writing back the set-up's 100 MB.
  const pulls = new Map<string, number>();
  for (const g of gens) {
    const nginx = await startNginx(g.repo, join(work, `nginx-${g.name.replace(/\W/g, '')}`), 18700 + Math.floor(Math.random() * 200));
    try {
      const res = { ostree: [] as Timed[], ots: [] as Timed[] };
      const bytes = { ostree: 0, ots: 0 };
      for (let i = 0; i < runs; i++) {
        for (const tool of ['ostree', 'ots'] as const) {
          const c = join(work, `client-${tool}-${g.name.replace(/\W/g, '')}`);
          sh('ostree', ['init', `--repo=${c}`, '--mode=bare-user']);
          sh('ostree', ['remote', 'add', `--repo=${c}`, '--no-gpg-verify', 'o', nginx.url]);
          sh('ostree', ['pull', `--repo=${c}`, 'o', `os@${a}`]);
          sh('sync', []);
          const lines = readFileSync(nginx.logPath, 'utf8').split('\n').length - 1;
          res[tool].push(tool === 'ots' ? timed(OTS, [`--repo=${c}`, 'pull', 'o', 'os']) : timed('ostree', ['pull', `--repo=${c}`, 'o', 'os']));
          bytes[tool] = readFileSync(nginx.logPath, 'utf8').split('\n').slice(lines).reduce((n, l) => n + Number(/" \d{3} (\d+) /.exec(l)?.[1] ?? 0), 0);
          if (i === 0) sh('ostree', ['fsck', '--quiet', `--repo=${c}`]);
          rmSync(c, { recursive: true, force: true });
        }
      }
      const stockWall = median(res.ostree.map((t) => t.wallS));
      for (const tool of ['ostree', 'ots'] as const) {
        const wall = median(res[tool].map((t) => t.wallS));
        pulls.set(`${tool} ${g.name}`, wall);
        rows.push({ step: `delta pull by ${tool} (delta from ${g.name})`, 'wall s': wall.toFixed(2), 'rss MB (tree)': median(res[tool].map((t) => t.maxRssMb)).toFixed(0),
          'delta MB': (bytes[tool] / 1e6).toFixed(1), 'ratio wall': (wall / stockWall).toFixed(2), 'ratio rss': '', 'ratio size': (bytes[tool] / bytes.ostree).toFixed(2) });
      }
    } finally {
      await nginx.stop();
    }
  }
  // The goal: our delta pull against the stock one (stock pulling stock's delta).
  const stockPull = pulls.get('ostree ostree (xz)') ?? 0;
  for (const name of ['ots (xz)', 'ots (xz + zstd variant)']) {
    const ours = pulls.get(`ots ${name}`) ?? 0;
    rows.push({ step: `goal: ots pulling ${name} vs ostree pulling ostree's delta`, 'wall s': ours.toFixed(2), 'rss MB (tree)': '', 'delta MB': '',
      'ratio wall': (ours / stockPull).toFixed(2), 'ratio rss': '', 'ratio size': '' });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
printTable(rows);
