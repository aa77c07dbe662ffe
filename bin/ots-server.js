#!/usr/bin/env node
// Entry point for `ots-server`; the code lives in dist/server (run `npm run build`).
import { main } from '../dist/server/main.js';

const code = await main(process.argv.slice(2), process.env);
if (code !== 0) process.exit(code);
