// bench/serve: ots-server vs nginx (and @fastify/static for reference)
// serving the same archive repo (Debian minbase) to wrk over loopback:
// small-object requests/s and large-file MB/s, with ratios to nginx.
// Run: npm run build && npx tsx bench/serve.ts [seconds]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOTFS, prepare, printTable, sh, TMP } from './lib.js';
import { startNginx } from './nginx.js';

const secs = Number(process.argv[2] ?? 5);
prepare();
if (spawnSync('which', ['wrk']).status !== 0) spawnSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'inherit' });
const work = mkdtempSync(`${TMP}/ots-bench-serve-`);
const repo = join(work, 'repo');
sh('ostree', ['init', `--repo=${repo}`, '--mode=archive']);
sh('ostree', ['commit', `--repo=${repo}`, '-b', 'os', '--timestamp=@1700000000', `${ROOTFS}/v1`]);
const small: string[] = [];
const large: string[] = [];
for (const p of readdirSync(join(repo, 'objects'))) {
  for (const f of readdirSync(join(repo, 'objects', p))) {
    const size = statSync(join(repo, 'objects', p, f)).size;
    if (size >= 1024 && size <= 16 * 1024) small.push(`/objects/${p}/${f}`);
    if (size >= 1024 * 1024) large.push(`/objects/${p}/${f}`);
  }
}
const lua = (paths: string[], name: string) => {
  const listFile = join(work, `${name}.txt`);
  writeFileSync(listFile, paths.join('\n'));
  const script = join(work, `${name}.lua`);
  writeFileSync(script, `local paths = {}
for l in io.lines("${listFile}") do paths[#paths + 1] = l end
math.randomseed(42)
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
`);
  return script;
};
const smallLua = lua(small, 'small');
const largeLua = lua(large, 'large');

function wrk(url: string, script: string, conns: number): { rps: number; mbps: number } {
  const out = sh('wrk', ['-t1', `-c${conns}`, `-d${secs}s`, '-s', script, url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const m = /Transfer\/sec:\s+([\d.]+)(KB|MB|GB)/.exec(out);
  const mbps = m ? Number(m[1]) * (m[2] === 'GB' ? 1024 : m[2] === 'KB' ? 1 / 1024 : 1) : 0;
  return { rps, mbps };
}

async function startNode(args: string[], env: Record<string, string> = {}): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); const m = /listening on (http:\/\/\S+)/.exec(out); if (m?.[1]) resolve(m[1]); });
    child.on('exit', (c) => reject(new Error(`exited ${c}`)));
  });
  return { url, child };
}

const SERVER = fileURLToPath(new URL('../bin/ots-server.js', import.meta.url));
const STATIC_APP = join(work, 'static.mjs');
writeFileSync(STATIC_APP, `import Fastify from '${fileURLToPath(new URL('../node_modules/fastify/fastify.js', import.meta.url))}';
import fstatic from '${fileURLToPath(new URL('../node_modules/@fastify/static/index.js', import.meta.url))}';
const app = Fastify(); await app.register(fstatic, { root: ${JSON.stringify(repo)} });
const a = await app.listen({ host: '127.0.0.1', port: 0 }); console.log('listening on ' + a);
`);

const rows: Record<string, string | number>[] = [];
console.log(`${small.length} small objects (1-16 KB), ${large.length} large (>= 1 MB); wrk -t1 ${secs}s`);
const nginx = await startNginx(repo, join(work, 'nginx'), 18900 + Math.floor(Math.random() * 90));
const servers: { name: string; url: string; stop: () => Promise<void> }[] = [{ name: 'nginx (1 worker)', url: nginx.url, stop: nginx.stop }];
for (const [name, args] of [
  ['ots-server', [SERVER, '--repo', repo, '--port', '0', '--log-level', 'warn']],
  ['ots-server --workers 2', [SERVER, '--repo', repo, '--port', '0', '--log-level', 'warn', '--workers', '2']],
  ['@fastify/static', [STATIC_APP]],
] as const) {
  const s = await startNode([...args]);
  servers.push({ name, url: s.url, stop: async () => { s.child.kill('SIGTERM'); await new Promise((r) => s.child.once('exit', r)); } });
}
try {
  const base = { small: 0, large: 0 };
  for (const s of servers) {
    wrk(s.url, smallLua, 8); // warm-up
    const sm = wrk(s.url, smallLua, 64);
    const lg = wrk(s.url, largeLua, 4);
    if (base.small === 0) { base.small = sm.rps; base.large = lg.mbps; }
    rows.push({
      server: s.name, 'small req/s': sm.rps.toFixed(0), 'ratio req/s': (sm.rps / base.small).toFixed(2),
      'large MB/s': lg.mbps.toFixed(0), 'ratio MB/s': (lg.mbps / base.large).toFixed(2),
    });
  }
} finally {
  for (const s of servers) await s.stop();
  rmSync(work, { recursive: true, force: true });
}
printTable(rows);
