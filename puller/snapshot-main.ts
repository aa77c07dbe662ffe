// Entry of the V8 startup snapshot (dist/ots.blob, made by scripts/bundle.mjs
// from a CommonJS bundle of this file): Node deserialises the CLI with its
// modules already evaluated instead of reading, compiling and linking ~40
// modules on every run (~25 ms of each short command here). bin/ots starts
// it as `node --snapshot-blob dist/ots.blob -- ARGS`.
//
// Nothing evaluated while the snapshot is built may depend on the process
// that runs it (uid, umask, environment, streams): modules read those in
// functions. import.meta.url is compiled to globalThis.__otsUrl, set below
// from the blob's path, so files next to the package (the native helper,
// node_modules) are found where the package is.
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startupSnapshot } from 'node:v8';
import { run } from './entry.js';

declare global {
  // eslint-disable-next-line no-var
  var __otsUrl: string | undefined;
}

/** The blob's path from `--snapshot-blob PATH` or `--snapshot-blob=PATH`. */
function blobPath(): string {
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--snapshot-blob') return resolve(args[i + 1] ?? '');
    if (a.startsWith('--snapshot-blob=')) return resolve(a.slice('--snapshot-blob='.length));
  }
  throw new Error('ots: started from a snapshot without --snapshot-blob; run bin/ots');
}

startupSnapshot.setDeserializeMainFunction(() => {
  // Where the ESM bundle's modules are (dist/bundle/): the same relative paths hold.
  globalThis.__otsUrl = pathToFileURL(resolve(dirname(blobPath()), 'bundle/ots.js')).href;
  return run(process.argv.slice(1));
});
