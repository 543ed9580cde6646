// Sessions over HTTP: POST /sessions {model, ttl_s} loads the model (the version the caller is routed
// to) and holds it loaded while the session lives; requests carrying X-Session-Id use that version
// and keep it alive (routing.ts); GET and DELETE
// /sessions/{id}. A session is its tenant's: another tenant's id is not found.
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { isServeError } from '../errors.ts';
import type { Registry } from '../registry/registry.ts';
import type { Session } from '../registry/sessions.ts';
import { errorResponses } from './errors.ts';
import { viewerOf } from './viewer.ts';
import { typed } from './typed.ts';

const MAX_TTL_S = 86_400;

const SessionRequest = Type.Object(
  {
    model: Type.String({ minLength: 1, description: 'The model to hold loaded.' }),
    ttl_s: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_TTL_S,
        description: 'Seconds it lives after its last use (900).',
      }),
    ),
  },
  { additionalProperties: false, examples: [{ model: 'sentiment', ttl_s: 600 }] },
);

const SessionView = Type.Object(
  {
    id: Type.String(),
    model: Type.String(),
    version: Type.String({ description: 'The version it holds: its requests go to it.' }),
    model_state: Type.String({ description: 'Its model: ready, or still loading.' }),
    ttl_s: Type.Integer(),
    expires_at: Type.String({ description: 'ISO time; each request with X-Session-Id moves it.' }),
  },
  { $id: 'Session' },
);

const view = (s: Session, registry: Registry): Static<typeof SessionView> => {
  const model = registry.get(s.model);
  return {
    id: s.id,
    model: model.name,
    version: model.version,
    model_state: model.state,
    ttl_s: s.ttlS,
    expires_at: new Date(s.expiresAt).toISOString(),
  };
};

export async function sessionRoutes(
  app: FastifyInstance,
  { registry }: { registry: Registry },
): Promise<void> {
  app.addSchema(SessionView);
  const routes = typed(app);
  const tags = ['sessions'];
  const params = Type.Object({ id: Type.String() });
  routes.post(
    '/sessions',
    {
      schema: {
        summary: 'Hold a model loaded for a while',
        description:
          'Loads the model if it is not (as its first request would), and keeps it loaded until the session expires.',
        tags,
        body: SessionRequest,
        response: { 201: { $ref: 'Session#' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const viewer = viewerOf(request);
      const key = registry.route(body.model, viewer); // model_not_found before anything is held
      const session = registry.sessions.create(key, viewer.tenant, body.ttl_s ?? 900);
      try {
        await registry.acquire(key);
      } catch (error) {
        // Still loading past load_wait_s: the session holds it as it finishes. Failed: no session.
        if (
          registry.get(key).state === 'failed' ||
          !isServeError(error) ||
          error.code !== 'model_not_ready'
        ) {
          registry.sessions.delete(session.id, session.tenant);
          throw error;
        }
      }
      return reply.status(201).send(view(session, registry));
    },
  );
  routes.get(
    '/sessions/:id',
    {
      schema: {
        summary: 'A session',
        tags,
        params,
        response: { 200: { $ref: 'Session#' }, ...errorResponses },
      },
    },
    async (request) => view(registry.sessions.get(request.params.id, viewerOf(request).tenant), registry),
  );
  routes.delete(
    '/sessions/:id',
    {
      schema: {
        summary: 'End a session: its model may be unloaded again',
        tags,
        params,
        response: errorResponses,
      },
    },
    async (request, reply) => {
      registry.sessions.delete(request.params.id, viewerOf(request).tenant);
      return reply.status(204).send();
    },
  );
}
