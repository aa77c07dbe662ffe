// buildApp(config): the Fastify instance (never listens). Registers the
// repository read path under the base path, /healthz and /metrics.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { ServerConfig } from './config.js';
import { Metrics } from './metrics.js';
import { repoFiles } from './read/repo-files.js';

export async function buildApp(config: ServerConfig): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: 1024, ignoreDuplicateSlashes: false },
    requestTimeout: 120_000,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
  });
  const metrics = new Metrics();
  if (config.accessLog) {
    app.addHook('onResponse', async (req, reply) => {
      req.log.info({ method: req.method, url: req.url, status: reply.statusCode }, 'access');
    });
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  await app.register(async (scope) => repoFiles(scope, { repoPath: config.repo, metrics, objectCacheBytes: config.objectCacheBytes }), { prefix: config.basePath });
  return app;
}
