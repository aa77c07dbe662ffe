// Bundle the `ots` CLI (dist/puller, compiled by tsc) two ways:
//  1. a few ESM files in dist/bundle (bin/ots.js): Node 20's ESM loader costs
//     ~0.5 ms per module, and `ots` runs on every machine of a fleet for short
//     commands (bench/deploy.ts). Each verb stays its own chunk, loaded on
//     demand; packages in node_modules stay external.
//  2. a V8 startup snapshot, dist/ots.blob (bin/ots): one CommonJS bundle of
//     puller/snapshot-main.ts evaluated by `node --build-snapshot`, so a run
//     deserialises the CLI instead of loading its modules (~25 ms less per
//     command). The blob only fits the node binary that made it: its mtime is
//     set to that binary's, and bin/ots uses it only while the two match.
//     When the snapshot cannot be made, bin/ots runs bin/ots.js (a warning here).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url).pathname;
const outdir = `${dist}bundle/`;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { ots: `${dist}puller/entry.js` },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outdir,
  logLevel: 'warning',
});

const cjs = `${dist}snapshot/ots.cjs`;
const blob = `${dist}ots.blob`;
rmSync(blob, { force: true });
await build({
  entryPoints: [`${dist}puller/snapshot-main.js`],
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outfile: cjs,
  // Set at run time from the blob's path (puller/snapshot-main.ts).
  define: { 'import.meta.url': 'globalThis.__otsUrl' },
  logLevel: 'warning',
});
const made = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', cjs], { encoding: 'utf8' });
if (made.status !== 0 || made.stderr.trim() !== '') {
  rmSync(blob, { force: true });
  console.warn(`warning: no startup snapshot (bin/ots will load modules instead):\n${made.stderr}`);
} else {
  // touch -r copies the exact timestamp (nanoseconds), which utimes from JS rounds.
  const touched = spawnSync('touch', ['-r', process.execPath, blob], { encoding: 'utf8' });
  if (touched.status !== 0) throw new Error(`touch -r ${process.execPath} ${blob}: ${touched.stderr}`);
}
