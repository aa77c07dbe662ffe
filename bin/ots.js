#!/usr/bin/env node
// Entry point for `ots`; the code lives in dist/puller (run `npm run build`).
import { main } from '../dist/puller/cli.js';

process.exitCode = await main(process.argv.slice(2), process.env);
