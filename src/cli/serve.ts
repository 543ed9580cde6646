// `hubserve serve`: resolve and load every configured model, then serve HTTP until SIGTERM/SIGINT.
import type { FastifyInstance } from 'fastify';
import { type Config, parseBytes } from '../config/schema.ts';
import { Keyring } from '../auth/keys.ts';
import { ServeError } from '../errors.ts';
import { buildApp } from '../http/app.ts';
import { isLoopback } from '../http/auth.ts';
import { type HubSettings, progressReporter } from '../hub/index.ts';
import { Registry } from '../registry/registry.ts';

export interface Server {
  app: FastifyInstance;
  registry: Registry;
  /** Base URL it listens on. */
  url: string;
  /** Closes at once (tests). */
  close(): Promise<void>;
  /** Graceful: stops accepting, lets in-flight requests finish within shutdown_timeout_s, then closes. */
  shutdown(): Promise<void>;
}

/** Starts the server: models load (in parallel) before the port opens, so traffic finds them warm. */
/** Refuses to expose a server without API keys, unless told --insecure. */
export function checkExposure(config: Config): void {
  if (isLoopback(config.host) || config.api_keys.length > 0 || config.insecure) return;
  throw new ServeError(
    'invalid_config',
    `refusing to listen on ${config.host} without API keys: anyone who reaches it could use it. ` +
      'Add api_keys to the config (`hubserve key NAME` makes one), or pass --insecure to serve openly.',
  );
}

export async function startServer(config: Config, hub: HubSettings, version: string): Promise<Server> {
  checkExposure(config);
  const registry = new Registry({
    hub,
    onProgress: progressReporter(),
    localRoots: config.model_dirs,
    limits: config.limits,
    memory: config.memory && {
      ...config.memory,
      max_bytes: config.memory.max_bytes === undefined ? undefined : parseBytes(config.memory.max_bytes),
    },
  });
  const app = await buildApp({
    registry,
    ...(config.api_keys.length ? { keyring: new Keyring(config.api_keys, config.rate_limit) } : {}),
    corsOrigins: config.cors_origins,
    logInputs: config.log_inputs,
    maxBodyBytes: config.max_body_bytes,
    maxInFlightPerConnection: config.max_in_flight_per_connection,
    logger: { level: config.log_level },
    version,
  });
  const loaded = await Promise.all(config.models.map((model) => registry.add(model)));
  for (const model of loaded) {
    if (model.state === 'ready') {
      app.log.info({ model: model.name, task: model.task, ...model.info }, `model ${model.name} ready`);
    } else app.log.error({ model: model.name, error: model.error }, `model ${model.name} failed to load`);
  }
  const url = await app.listen({ host: config.host, port: config.port });
  const close = async (): Promise<void> => {
    await app.close();
    await registry.dispose();
  };
  const shutdown = async (): Promise<void> => {
    const deadline = config.shutdown_timeout_s * 1000;
    registry.drain();
    // At the deadline, what is still queued or running gets a clear 503 rather than a cut connection;
    // a moment later, connections that still hang on (a slow upload) are closed.
    const late = setTimeout(() => {
      app.log.warn('shutdown deadline: failing the requests still in flight');
      registry.close(
        new ServeError('shutting_down', 'the server is shutting down; retry on another instance'),
      );
    }, deadline);
    const later = setTimeout(() => app.server.closeAllConnections(), deadline + 5_000);
    // Keep-alive connections go idle as their requests finish; close them then, not at their timeout.
    const reaper = setInterval(() => app.server.closeIdleConnections(), 100);
    try {
      await app.close(); // stops accepting; waits for requests in flight
    } finally {
      clearTimeout(late);
      clearTimeout(later);
      clearInterval(reaper);
    }
    await registry.dispose();
  };
  return { app, registry, url, close, shutdown };
}
