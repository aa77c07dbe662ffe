#!/usr/bin/env node
// Entry point for `ots`; `npm run build` compiles puller/ into dist/ and
// bundles it into dist/bundle (scripts/bundle.mjs).
import { main } from '../dist/bundle/ots.js';

// A reader that goes away (`ots log | head`) is not an error.
process.stdout.on('error', (err) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); throw err; });
process.exitCode = await main(process.argv.slice(2), process.env);
