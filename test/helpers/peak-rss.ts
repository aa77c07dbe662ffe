// Run a process and sample its peak resident set (VmHWM from /proc) while it runs.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export async function runWithPeakRss(cmd: string, args: string[]): Promise<{ code: number | null; peakMb: number; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  let peakKb = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch { /* exited */ }
  };
  const timer = setInterval(sample, 10);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => { sample(); r(c); }));
  clearInterval(timer);
  return { code, peakMb: peakKb / 1024, stderr };
}
