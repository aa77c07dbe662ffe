// Shared bench helpers: timed child processes with peak RSS (GNU time), medians, tables.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const OTS = fileURLToPath(new URL('../bin/ots.js', import.meta.url));
export const ROOTFS = process.env.OTS_BENCH_DIR ?? '/var/tmp/ots-bench';

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
