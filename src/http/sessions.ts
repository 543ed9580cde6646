// Sessions over HTTP: POST /sessions {model, ttl_s} loads the model and holds it loaded while the
// session lives; requests carrying X-Session-Id use it (and keep it alive); GET and DELETE
// /sessions/{id}. A session is its tenant's: another tenant's id is not found.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { isServeError, ServeError } from '../errors.ts';
import type { Registry } from '../registry/registry.ts';
import type { Session } from '../registry/sessions.ts';
import { errorResponses } from './errors.ts';

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
    model_state: Type.String({ description: 'Its model: ready, or still loading.' }),
    ttl_s: Type.Integer(),
    expires_at: Type.String({ description: 'ISO time; each request with X-Session-Id moves it.' }),
  },
  { $id: 'Session' },
);

const view = (s: Session, registry: Registry): Static<typeof SessionView> => ({
  id: s.id,
  model: s.model,
  model_state: registry.get(s.model).state,
  ttl_s: s.ttlS,
  expires_at: new Date(s.expiresAt).toISOString(),
});

/** Whom a request acts for: its key's tenant, or everyone's when the server has no keys. */
const tenantOf = (request: FastifyRequest): string => request.caller?.tenant ?? '';

/**
 * The session a request names in X-Session-Id, kept alive by this use: it must be the caller's and
 * be for `model`. Nothing when the request names none.
 */
export function useSession(request: FastifyRequest, registry: Registry, model: string): Session | undefined {
  const id = request.headers['x-session-id'];
  if (typeof id !== 'string') return undefined;
  const session = registry.sessions.touch(id, tenantOf(request));
  if (session.model !== model) {
    throw new ServeError('invalid_request', `session ${id} is for model "${session.model}", not "${model}"`);
  }
  return session;
}

export async function sessionRoutes(
  app: FastifyInstance,
  { registry }: { registry: Registry },
): Promise<void> {
  app.addSchema(SessionView);
  const tags = ['sessions'];
  const params = Type.Object({ id: Type.String() });
  app.post(
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
      const body = request.body as Static<typeof SessionRequest>;
      registry.get(body.model); // model_not_found before anything is held
      const session = registry.sessions.create(body.model, tenantOf(request), body.ttl_s ?? 900);
      try {
        await registry.acquire(body.model);
      } catch (error) {
        // Still loading past load_wait_s: the session holds it as it finishes. Failed: no session.
        if (
          registry.get(body.model).state === 'failed' ||
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
  app.get(
    '/sessions/:id',
    {
      schema: {
        summary: 'A session',
        tags,
        params,
        response: { 200: { $ref: 'Session#' }, ...errorResponses },
      },
    },
    async (request) =>
      view(registry.sessions.get((request.params as { id: string }).id, tenantOf(request)), registry),
  );
  app.delete(
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
      registry.sessions.delete((request.params as { id: string }).id, tenantOf(request));
      return reply.status(204).send();
    },
  );
}
