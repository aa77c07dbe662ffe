// Bundle the `ots` CLI (dist/puller, compiled by tsc) into a few ESM files in
// dist/bundle: Node 20's ESM loader costs ~0.5 ms per module, and `ots` runs
// on every machine of a fleet for short commands (bench/deploy.ts). Each verb
// stays its own chunk, loaded on demand; packages in node_modules stay external.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const outdir = new URL('../dist/bundle/', import.meta.url).pathname;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { ots: new URL('../dist/puller/cli.js', import.meta.url).pathname },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outdir,
  logLevel: 'warning',
});
