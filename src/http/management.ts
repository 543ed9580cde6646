// The management API, on a port of its own (127.0.0.1:8081 by default): register and remove model
// versions, scale them, change their batching, set the default version and the traffic split, while
// the inference port keeps serving. Every route needs an `admin` key when the server has keys; with
// none, it may only listen on loopback. The request bodies are the config file's own schemas.
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import type { Keyring } from '../auth/keys.ts';
import { ModelSchema, TENANT_PATTERN } from '../config/schema.ts';
import { ServeError } from '../errors.ts';
import type { Registry } from '../registry/registry.ts';
import { baseApp, registerDocs } from './app.ts';
import { registerAuth } from './auth.ts';
import { errorResponses } from './errors.ts';
import { Model, modelView, Routing } from './models.ts';
import { strictValidatorCompiler } from './validation.ts';
import { typed } from './typed.ts';
import { modelNameOf } from './model-path.ts';

export interface ManagementOptions {
  registry: Registry;
  keyring?: Keyring | undefined;
  logger?: { level: string };
  version: string;
}

const Registration = Type.Object(
  {
    ...ModelSchema.properties,
    tenant: Type.Optional(
      Type.String({
        pattern: TENANT_PATTERN,
        description: "Make it this tenant's own model (only it reaches it).",
      }),
    ),
  },
  {
    additionalProperties: false,
    examples: [{ name: 'sentiment', version: '2', source: './models/sentiment-v2' }],
  },
);

/** What may change on a running version: how it runs, not what it is. */
const { instances, batching, threads, hang_timeout_s, max_worker_growth_mb } = ModelSchema.properties;
const Change = Type.Object(
  { instances, batching, threads, hang_timeout_s, max_worker_growth_mb },
  { additionalProperties: false, minProperties: 1, examples: [{ instances: 2 }] },
);

const RoutingChange = Type.Object(
  {
    default_version: Type.Optional(Type.String({ description: 'Where requests without a version go.' })),
    split: Type.Optional(
      Type.Union([Type.Record(Type.String(), Type.Number({ minimum: 0 })), Type.Null()], {
        description: 'Relative weights by version, sticky per user; null ends the split.',
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ split: { '1': 90, '2': 10 } }] },
);

const Description = Type.Object({
  name: Type.String(),
  tenant: Type.Optional(Type.String()),
  routing: Routing,
  versions: Type.Array(Type.Unsafe({ $ref: 'Model#' })),
});

const TenantQuery = Type.Object(
  { tenant: Type.Optional(Type.String({ minLength: 1, description: "A tenant's own model of that name." })) },
  { additionalProperties: false },
);

interface Target {
  name: string;
  tenant: string | undefined;
}

/** `/models/{name}` or `/models/{org}/{name}` (a Hub id). */
const ModelPath = Type.Object({ org: Type.Optional(Type.String()), name: Type.String() });
const VersionPath = Type.Object({ ...ModelPath.properties, version: Type.String() });

/** The model a URL names, `?tenant=` for a tenant's own. */
function targetOf(request: { params: Static<typeof ModelPath>; query: Static<typeof TenantQuery> }): Target {
  return { name: modelNameOf(request.params), tenant: request.query.tenant };
}

/** The management routes, each at `/models/{name}...` and `/models/{org}/{name}...` (Hub ids). */
async function managementRoutes(app: FastifyInstance, { registry }: { registry: Registry }): Promise<void> {
  // Strict: an unknown field is refused by name, not silently dropped (an admin's typo must not pass).
  app.setValidatorCompiler(strictValidatorCompiler);
  app.addSchema(Model);
  const tags = ['management'];
  const describe = ({ name, tenant }: Target): Static<typeof Description> => {
    const routing = registry.routing(name, tenant);
    const versions = registry
      .list()
      .filter((m) => m.name === name && m.tenant === tenant)
      .map((m) => modelView(m, registry));
    return { name, ...(tenant ? { tenant } : {}), routing, versions };
  };
  const keyOf = (target: Target, version: string): string => {
    const { versions } = registry.routing(target.name, target.tenant);
    if (!versions.includes(version)) {
      throw new ServeError('model_not_found', `model "${target.name}" has no version "${version}"`, {
        versions,
      });
    }
    return registry.route(`${target.name}@${version}`, { tenant: target.tenant });
  };
  const both = (path: string): string[] => [`/models/:name${path}`, `/models/:org/:name${path}`];
  const routes = typed(app);

  routes.get(
    '/models',
    {
      schema: {
        summary: 'Every model version, tenants’ own included',
        tags,
        response: { 200: Type.Object({ models: Type.Array(Type.Unsafe({ $ref: 'Model#' })) }) },
      },
    },
    async () => ({ models: registry.list().map((m) => modelView(m, registry)) }),
  );

  routes.post(
    '/models',
    {
      schema: {
        summary: 'Register a model version',
        description:
          'Loads and warms it (unless `load: on_demand`), then answers 201; requests reach it from then on ' +
          'by `name@version`, and by name once it is warm and the default (explicit, or the latest) or in ' +
          'the split. A version that fails to load is not kept: 400 says why. 409 `model_exists` when ' +
          'the version is registered already.',
        tags,
        body: Registration,
        response: { 201: { $ref: 'Model#' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { tenant, ...model } = request.body;
      const added = await registry.add(model, tenant, 'runtime');
      if (added.state === 'failed') {
        await registry.remove(added.key);
        throw new ServeError(
          'invalid_config',
          `model "${added.key}" failed to load: ${added.error?.message}`,
          { reason: added.error },
        );
      }
      return reply.status(201).send(modelView(added, registry));
    },
  );

  for (const url of both('')) {
    routes.get(
      url,
      {
        schema: {
          summary: 'Describe a model: its versions and routing',
          tags,
          params: ModelPath,
          querystring: TenantQuery,
          response: { 200: Description, ...errorResponses },
        },
      },
      async (request) => describe(targetOf(request)),
    );
    routes.delete(
      url,
      {
        schema: {
          summary: 'Unregister a model: every version',
          description: 'New requests get 404 at once; those in flight finish, then the workers stop.',
          tags,
          params: ModelPath,
          querystring: TenantQuery,
          response: { 200: Type.Object({ removed: Type.Array(Type.String()) }), ...errorResponses },
        },
      },
      async (request) => {
        const target = targetOf(request);
        const { versions } = registry.routing(target.name, target.tenant);
        const keys = versions.map((v) => keyOf(target, v));
        await Promise.all(keys.map((key) => registry.remove(key)));
        return { removed: versions };
      },
    );
  }

  const versionParams = { params: VersionPath, querystring: TenantQuery, tags };
  for (const url of both('/versions/:version')) {
    routes.patch(
      url,
      {
        schema: {
          ...versionParams,
          summary: 'Scale a version or change its batching',
          description:
            'A copy with the new settings loads and warms beside the running one, takes over, and the old ' +
            'one finishes its requests: no request fails.',
          body: Change,
          response: { 200: { $ref: 'Model#' }, ...errorResponses },
        },
      },
      async (request) => {
        const key = keyOf(targetOf(request), request.params.version);
        return modelView(await registry.reconfigure(key, request.body), registry);
      },
    );
    routes.delete(
      url,
      {
        schema: {
          ...versionParams,
          summary: 'Unregister one version',
          description:
            'Requests stop reaching it at once (one routed to it a moment ago goes to the default version); ' +
            'those in flight finish, then its workers stop. Removing the default makes the latest version ' +
            'left the default. Register a new version, make it the default, remove the old: a hot swap.',
          response: { 200: Type.Object({ removed: Type.Array(Type.String()) }), ...errorResponses },
        },
      },
      async (request) => {
        const { version } = request.params;
        await registry.remove(keyOf(targetOf(request), version));
        return { removed: [version] };
      },
    );
  }

  for (const url of both('/routing')) {
    routes.put(
      url,
      {
        schema: {
          summary: 'Set the default version and the traffic split',
          description:
            'Requests routed from now on follow it; a user keeps one version while the split stands ' +
            '(X-User-Id, else the API key, else the client address, picks the side).',
          tags,
          params: ModelPath,
          querystring: TenantQuery,
          body: RoutingChange,
          response: { 200: Routing, ...errorResponses },
        },
      },
      async (request) => {
        const { name, tenant } = targetOf(request);
        return registry.setRouting(name, request.body, tenant);
      },
    );
  }
}

/** The management app (not listening yet). */
export async function buildManagementApp(options: ManagementOptions): Promise<FastifyInstance> {
  const app = baseApp({ maxBodyBytes: 64 * 1024, logger: options.logger ?? false });
  // Every route changes or reveals what runs for everyone: admin, unless a route says otherwise.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, scope: route.config?.scope ?? 'admin' };
  });
  registerAuth(app, options.keyring);
  // An audit trail: who changed what, and how it went.
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url, status: reply.statusCode, key: request.caller?.key },
      'management',
    );
  });
  await registerDocs(
    app,
    {
      title: 'hubserve management',
      version: options.version,
      description: 'Register, remove, scale and route model versions while the server runs.',
    },
    [{ name: 'management' }],
  );
  await app.register(managementRoutes, { registry: options.registry });
  return app;
}
