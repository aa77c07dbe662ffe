#!/usr/bin/env node
// `ots` from its ES modules (dist/bundle, made by `npm run build`). bin/ots
// starts the same CLI from a V8 startup snapshot when there is one.
const { run } = await import('../dist/bundle/ots.js');
await run(process.argv.slice(2));
