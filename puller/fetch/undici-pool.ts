// undici's Pool with its request API, without the rest of undici. Importing
// 'undici' loads fetch, WebSocket, cookies, caches… — ~75 ms of every `ots pull`
// on this machine, against ~25 ms for the Pool alone (a no-op pull is what a
// fleet agent runs most). This does what undici's index.js does for a Pool
// (the request API mixed into Dispatcher.prototype); if undici ever moves these
// files, the whole package is loaded instead.
import type { Pool as UndiciPool } from 'undici';
import { lazyRequire } from '../../shared/lazy-require.js';

type PoolClass = typeof UndiciPool;

function loadPool(): PoolClass {
  const require = lazyRequire;
  try {
    const Pool = require('undici/lib/dispatcher/pool.js') as PoolClass;
    const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
    const api = require('undici/lib/api/index.js') as object;
    if (!('request' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, api);
    return Pool;
  } catch {
    return (require('undici') as { Pool: PoolClass }).Pool;
  }
}

export const Pool: PoolClass = loadPool();
export type Pool = UndiciPool;
