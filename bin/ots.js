#!/usr/bin/env node
// Entry point for `ots`; `npm run build` compiles puller/ into dist/ and
// bundles it into dist/bundle (scripts/bundle.mjs).
import { setFlagsFromString } from 'node:v8';

// undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it a
// second time, optimised, on a background thread, and a process cannot exit
// before that is done: ~60 ms at the end of every short `ots pull` here (a
// no-op pull took 0.21 s, now 0.15 s). The baseline compiler alone parses the
// 6k responses of a full pull with no more CPU.
setFlagsFromString('--liftoff-only');

const { main } = await import('../dist/bundle/ots.js');

// A reader that goes away (`ots log | head`) is not an error.
process.stdout.on('error', (err) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); throw err; });
process.exitCode = await main(process.argv.slice(2), process.env);
