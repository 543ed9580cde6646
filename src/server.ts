// The composition root: the registry, the public app, the management app and the model repository,
// assembled from a configuration. `hubserve serve` starts it; the Lambda handler builds it and
// answers events without listening.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { type Config, parseBytes } from './config/schema.ts';
import { Keyring } from './auth/keys.ts';
import { ServeError } from './errors.ts';
import { buildApp } from './http/app.ts';
import { isLoopback } from './http/auth.ts';
import { buildManagementApp } from './http/management.ts';
import { type HubSettings, progressReporter } from './hub/index.ts';
import { Registry } from './registry/registry.ts';
import { ModelRepository } from './registry/repository.ts';

export interface Server {
  app: FastifyInstance;
  registry: Registry;
  /** Base URL it listens on. */
  url: string;
  /** The management API and its base URL, unless management.enabled is false. */
  management?: { app: FastifyInstance; url: string };
  /** Closes at once (tests). */
  close(): Promise<void>;
  /** Graceful: drains (see below), lets in-flight requests finish within shutdown_timeout_s, then closes. */
  shutdown(): Promise<void>;
}

/**
 * Refuses to expose a server without API keys, unless told --insecure; and the management API (which
 * changes what runs) beyond loopback without an admin key, whatever it is told.
 */
export function checkExposure(config: Config): void {
  const management = managementOf(config);
  const admin = config.api_keys.some((k) => k.scopes.includes('admin'));
  if (management && !isLoopback(management.host) && !admin) {
    throw new ServeError(
      'invalid_config',
      `refusing to expose the management API on ${management.host} without an admin API key: ` +
        'add one (`hubserve key NAME --scopes admin`), or keep management.host on loopback.',
    );
  }
  if (isLoopback(config.host) || config.api_keys.length > 0 || config.insecure) return;
  throw new ServeError(
    'invalid_config',
    `refusing to listen on ${config.host} without API keys: anyone who reaches it could use it. ` +
      'Add api_keys to the config (`hubserve key NAME` makes one), or pass --insecure to serve openly.',
  );
}

const managementOf = (config: Config): { host: string; port: number } | undefined =>
  config.management?.enabled === false
    ? undefined
    : { host: config.management?.host ?? '127.0.0.1', port: config.management?.port ?? 8081 };

/**
 * The registry and the HTTP app of a configuration, its models loaded (in parallel); nothing listens
 * yet. The server listens on a port; the Lambda handler (src/serverless) injects events instead.
 */
export async function buildServer(
  config: Config,
  hub: HubSettings,
  version: string,
): Promise<{
  app: FastifyInstance;
  registry: Registry;
  keyring: Keyring | undefined;
  repository: ModelRepository | undefined;
}> {
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
  const keyring = config.api_keys.length ? new Keyring(config.api_keys, config.rate_limit) : undefined;
  const app = await buildApp({
    registry,
    ...(keyring ? { keyring } : {}),
    corsOrigins: config.cors_origins,
    logInputs: config.log_inputs,
    maxBodyBytes: config.max_body_bytes,
    maxInFlightPerConnection: config.max_in_flight_per_connection,
    logger: { level: config.log_level },
    version,
  });
  const loaded = (
    await Promise.all([
      ...config.models.map((model) => registry.add(model)),
      registry.addTenants(config.tenants ?? []),
    ])
  ).flat();
  const repository =
    config.model_repository && new ModelRepository(config.model_repository.path, registry, app.log);
  await repository?.start(config.model_repository?.poll_s ?? 5);
  for (const model of loaded) {
    if (model.state === 'ready') {
      app.log.info({ model: model.label, task: model.task, ...model.info }, `model ${model.label} ready`);
      for (const warning of model.info?.warnings ?? []) app.log.warn({ model: model.label }, warning);
    } else if (model.state === 'failed') {
      app.log.error({ model: model.label, error: model.error }, `model ${model.label} failed to load`);
    }
  }
  return { app, registry, keyring, repository: repository || undefined };
}

/** Starts the server: models load before the port opens, so traffic finds them warm. */
export async function startServer(config: Config, hub: HubSettings, version: string): Promise<Server> {
  checkExposure(config);
  const { app, registry, keyring, repository } = await buildServer(config, hub, version);
  const url = await app.listen({ host: config.host, port: config.port });
  const management = await startManagement(config, registry, keyring, version);
  const close = async (): Promise<void> => {
    repository?.stop();
    await management?.app.close();
    await app.close();
    await registry.dispose();
  };
  // SIGTERM: readiness 503 and `Connection: close` on every answer at once, while the server serves on
  // for drain_delay_s and balancers stop routing here; then requests still arriving get 503
  // shutting_down and what is in flight finishes (./http/drain.ts). At the deadline what is left
  // gets 503 shutting_down; a moment later, connections still open are closed.
  const shutdown = async (): Promise<void> => {
    const deadline = performance.now() + config.shutdown_timeout_s * 1000;
    registry.drain();
    app.drain.begin();
    repository?.stop();
    await sleep(Math.min(config.drain_delay_s * 1000, deadline - performance.now()));
    app.drain.refuse();
    const late = setTimeout(
      () => {
        app.log.warn('shutdown deadline: failing the requests still in flight');
        registry.close(
          new ServeError('shutting_down', 'the server is shutting down; retry on another instance'),
        );
      },
      Math.max(0, deadline - performance.now()),
    );
    try {
      await app.drain.closed(Math.max(0, deadline - performance.now()) + 5_000);
      await management?.app.close();
      await app.close();
    } finally {
      clearTimeout(late);
    }
    await registry.dispose();
  };
  return { app, registry, url, ...(management ? { management } : {}), close, shutdown };
}

async function startManagement(
  config: Config,
  registry: Registry,
  keyring: Keyring | undefined,
  version: string,
): Promise<Server['management']> {
  const where = managementOf(config);
  if (!where) return undefined;
  const app = await buildManagementApp({ registry, keyring, logger: { level: config.log_level }, version });
  return { app, url: await app.listen(where) };
}
