// Run the real `ostree` and our `ots` as processes.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

// The launcher users run: the startup snapshot (dist/ots.blob) when there is one.
const OTS = fileURLToPath(new URL('../../bin/ots', import.meta.url));

/** Run a program; resolves with its exit status and output (never rejects on a non-zero exit). */
export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.stdin.on('error', () => undefined); // a child that never reads stdin may close it first (EPIPE)
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    child.stdin.end(opts.input ?? '');
  });
}

/** Run and require exit 0; returns stdout. */
export async function runOk(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export const ostree = (...args: string[]): Promise<string> => runOk('ostree', args);
export const ots = (...args: string[]): Promise<string> => runOk(OTS, args);
export const otsRun = (args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<RunResult> => run(OTS, args, opts);
export const OTS_BIN = OTS;
