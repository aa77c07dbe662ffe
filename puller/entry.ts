// What both ways of starting `ots` run: bin/ots.js (ESM modules) and the V8
// startup snapshot made by scripts/bundle.mjs (puller/snapshot-main.ts).
import { setFlagsFromString } from 'node:v8';
import { main } from './cli.js';

/** Run the CLI with `argv` (without node and script) and set the exit code. */
export async function run(argv: string[]): Promise<void> {
  // undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it a
  // second time, optimised, on a background thread, and a process cannot exit
  // before that is done: ~60 ms at the end of every short `ots pull` here (a
  // no-op pull took 0.21 s, then 0.15 s). The baseline compiler alone parses
  // the 6k responses of a full pull with no more CPU.
  setFlagsFromString('--liftoff-only');
  // A reader that goes away (`ots log | head`) is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  process.exitCode = await main(argv, process.env);
}
