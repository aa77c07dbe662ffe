// ots-server: config → buildApp → listen (127.0.0.1 by default) → signals.
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
  process.stdout.write(`listening on ${address}\n`);
  return 0;
}
