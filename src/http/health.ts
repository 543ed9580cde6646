// /health (the process answers) and /ready (every configured model is loaded and warm).
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { Registry } from '../registry/registry.ts';
import { RETRY_AFTER_S } from './errors.ts';

const Status = Type.Object({
  status: Type.String(),
  models: Type.Optional(Type.Record(Type.String(), Type.String())),
});

export async function healthRoutes(
  app: FastifyInstance,
  { registry }: { registry: Registry },
): Promise<void> {
  const tags = ['health'];
  const config = { scope: 'public' as const }; // probes carry no key
  app.get(
    '/health',
    { config, schema: { summary: 'Liveness', tags, response: { 200: Status } } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/ready',
    {
      config,
      schema: { summary: 'Readiness: all models warm', tags, response: { 200: Status, 503: Status } },
    },
    async (_request, reply) => {
      // Shared models only: probes carry no key, and tenants' own models are nobody else's business.
      const models = Object.fromEntries(registry.list({}).map((m) => [m.label, m.state]));
      if (registry.allReady) return { status: 'ready', models };
      void reply.header('Retry-After', String(RETRY_AFTER_S));
      return reply.status(503).send({ status: 'not_ready', models });
    },
  );
}
