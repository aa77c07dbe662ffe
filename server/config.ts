// ots-server configuration from flags and environment, validated once.
import { parseArgs } from 'node:util';
import { OtError } from '../shared/errors.js';

export interface ServerConfig {
  repo: string;
  host: string;
  port: number;
  basePath: string;
  logLevel: string;
  /** Log one line per request (method, path, status, bytes) at info level. */
  accessLog: boolean;
  /** Worker processes sharing the port (node:cluster); 1 = serve from this process. */
  workers: number;
  /** Bytes of small loose objects kept in memory per process (0 = none). */
  objectCacheBytes: number;
}

const USAGE = 'ots-server --repo PATH [--host 127.0.0.1] [--port 8080] [--base-path /] [--log-level info] [--access-log] [--workers N] [--object-cache-mb 64]';

/** Build the config from argv and env (OTS_REPO, OTS_HOST, OTS_PORT, OTS_BASE_PATH, OTS_LOG_LEVEL, OTS_WORKERS, OTS_OBJECT_CACHE_MB). */
export function loadConfig(argv: string[], env: Readonly<Record<string, string | undefined>>): ServerConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv, strict: true,
      options: {
        repo: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, 'base-path': { type: 'string' },
        'log-level': { type: 'string' }, 'access-log': { type: 'boolean' }, workers: { type: 'string' },
        'object-cache-mb': { type: 'string' },
      },
    }));
  } catch (err: unknown) {
    throw new OtError('ERR_INVALID_ARGUMENT', err instanceof Error ? err.message : String(err), { hint: `usage: ${USAGE}` });
  }
  const repo = values.repo ?? env.OTS_REPO;
  if (!repo) throw new OtError('ERR_INVALID_ARGUMENT', 'No repository given', { hint: `usage: ${USAGE}` });
  const port = Number(values.port ?? env.OTS_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new OtError('ERR_INVALID_ARGUMENT', `Invalid port ${values.port}`);
  const workers = Number(values.workers ?? env.OTS_WORKERS ?? 1);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new OtError('ERR_INVALID_ARGUMENT', `Invalid --workers ${values.workers}`);
  const cacheMb = Number(values['object-cache-mb'] ?? env.OTS_OBJECT_CACHE_MB ?? 64);
  if (!Number.isFinite(cacheMb) || cacheMb < 0) throw new OtError('ERR_INVALID_ARGUMENT', `Invalid --object-cache-mb ${values['object-cache-mb']}`);
  let basePath = values['base-path'] ?? env.OTS_BASE_PATH ?? '/';
  if (!basePath.startsWith('/')) basePath = `/${basePath}`;
  return {
    repo, port, basePath: basePath.replace(/\/+$/, ''),
    host: values.host ?? env.OTS_HOST ?? '127.0.0.1',
    logLevel: values['log-level'] ?? env.OTS_LOG_LEVEL ?? 'info',
    accessLog: values['access-log'] === true || env.OTS_ACCESS_LOG === '1',
    workers,
    objectCacheBytes: Math.floor(cacheMb * 1024 * 1024),
  };
}
