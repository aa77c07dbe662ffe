// OTS_TRACE=1: phase timings on stderr ("<ms since start> <phase>"), for
// finding where a pull or deploy spends its time without a profiler (which
// slows it and hides thread-pool work). Read when first used, never at
// load: `ots` starts from a V8 snapshot built with another environment.
let enabled: boolean | undefined;

export function trace(phase: string): void {
  enabled ??= process.env.OTS_TRACE === '1';
  if (enabled) process.stderr.write(`${performance.now().toFixed(1)} ${phase}\n`);
}
