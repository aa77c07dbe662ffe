#!/usr/bin/env node
// Entry point for `ots`; the code lives in dist/puller (run `npm run build`).
import { main } from '../dist/puller/cli.js';

// A reader that goes away (`ots log | head`) is not an error.
process.stdout.on('error', (err) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); throw err; });
process.exitCode = await main(process.argv.slice(2), process.env);
