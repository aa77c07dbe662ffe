// ots-server: config → buildApp → listen (127.0.0.1 by default) → signals.
import cluster from 'node:cluster';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { isOtError } from '../shared/errors.js';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';

export async function main(argv: string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  let config;
  try {
    config = loadConfig(argv, env);
    await access(join(config.repo, 'config'));
  } catch (err: unknown) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    if (isOtError(err) && err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    return 1;
  }
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config.workers);
  const app = await buildApp(config);
  const stop = async (signal: string) => {
    app.log.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  const address = await app.listen({ host: config.host, port: config.port });
  app.log.info({ address, repo: config.repo }, 'serving repository');
  if (cluster.isPrimary) process.stdout.write(`listening on ${address}\n`);
  else process.send?.({ listening: address });
  return 0;
}

/**
 * Fork `n` workers that share the listening socket (node:cluster). The read
 * path is CPU-bound in JS, so extra processes scale requests/s with cores
 * (bench/serve.ts). Workers that die are replaced; SIGTERM stops them all.
 */
function runPrimary(n: number): number {
  let announced = false;
  let stopping = false;
  const fork = () => {
    const w = cluster.fork();
    w.on('message', (m: { listening?: string }) => {
      if (m.listening && !announced) { announced = true; process.stdout.write(`listening on ${m.listening}\n`); }
    });
  };
  for (let i = 0; i < n; i++) fork();
  cluster.on('exit', () => { if (!stopping) fork(); });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 5000).unref();
    cluster.on('exit', () => { if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0); });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return 0;
}
