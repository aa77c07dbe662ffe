// Shared bench helpers: timed child processes with peak RSS (GNU time), medians, tables.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The `ots` launcher (bin/ots: the startup snapshot when there is one), as users run it. */
export const OTS = fileURLToPath(new URL('../bin/ots', import.meta.url));
export const ROOTFS = process.env.OTS_BENCH_DIR ?? '/var/tmp/ots-bench';
/**
 * Where benches put their repos: OTS_BENCH_TMP, else a fresh journaled ext4
 * (a loop image, removed at exit) — what a machine's root filesystem is. Not
 * this VM's own root filesystem: ext4 without a journal, where creating a file
 * soon after many were deleted scans every recently freed inode (ext4's
 * recently_deleted(), seen with perf: ~0.5 ms per new file), which made file
 * creation the largest cost of every pull for either tool and hid the rest.
 */
export const TMP = process.env.OTS_BENCH_TMP ?? journaledScratch();

function journaledScratch(): string {
  const dir = mkdtempSync('/var/tmp/ots-bench-fs-');
  const img = `${dir}.img`;
  const made = spawnSync('sh', ['-c', `truncate -s 32G "$1" && mkfs.ext4 -q -F "$1" && mount -o loop "$1" "$2"`, 'sh', img, dir], { encoding: 'utf8' });
  if (made.status !== 0) {
    rmSync(img, { force: true });
    console.warn(`bench: no journaled scratch filesystem (${made.stderr.trim()}); using ${dir}`);
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }
  process.on('exit', () => {
    spawnSync('umount', [dir]);
    rmSync(img, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  process.on('SIGINT', () => process.exit(130)); // still unmount
  console.log(`bench: repos on a fresh journaled ext4 (${img} on ${dir})`);
  return dir;
}

export interface Timed { wallS: number; cpuS: number; maxRssMb: number; stdout: string }

/** Make sure the debootstrap trees and GNU time exist. */
export function prepare(): void {
  if (!existsSync('/usr/bin/time')) spawnSync('apt-get', ['install', '-y', '-qq', 'time'], { stdio: 'inherit' });
  if (!existsSync(`${ROOTFS}/v2.done`)) {
    const r = spawnSync('bash', [fileURLToPath(new URL('./make-rootfs.sh', import.meta.url)), ROOTFS], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('make-rootfs.sh failed');
  }
}

/** Run a command under /usr/bin/time; throws on failure. */
export function timed(cmd: string, args: string[]): Timed {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const last = r.stderr.trim().split('\n').pop() ?? '';
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  const [e, u, s, m] = last.split(' ').map(Number);
  return { wallS: e ?? 0, cpuS: (u ?? 0) + (s ?? 0), maxRssMb: (m ?? 0) / 1024, stdout: r.stdout };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

export function printTable(rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0] as object);
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(w[i] ?? 0)).join('  ');
  console.log(line(cols));
  console.log(line(w.map((n) => '-'.repeat(n))));
  for (const r of rows) console.log(line(cols.map((c) => String(r[c]))));
}

/** Pids of `pid` and all its descendants (from /proc/PID/task/TID/children). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        for (const c of readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
      }
    } catch { /* exited */ }
  }
  return out;
}

/**
 * Like `timed`, plus the peak of the summed resident set of the whole process
 * tree (sampled every 20 ms), for tools that run helpers (ots runs xz for
 * delta parts): GNU time's %M only reports the largest single process.
 */
export async function timedTree(cmd: string, args: string[]): Promise<Timed & { treeRssMb: number }> {
  const start = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  let peakKb = 0;
  const timer = setInterval(() => {
    let kb = 0;
    for (const pid of processTree(child.pid as number).slice(1)) {
      try { kb += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0); } catch { /* exited */ }
    }
    peakKb = Math.max(peakKb, kb);
  }, 20);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${stderr}`);
  const [e, u, s, m] = (stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  return { wallS: e ?? (performance.now() - start) / 1000, cpuS: (u ?? 0) + (s ?? 0), maxRssMb: (m ?? 0) / 1024, treeRssMb: Math.max(peakKb, m ?? 0) / 1024, stdout };
}
