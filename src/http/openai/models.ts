// GET /v1/models and GET /v1/models/{model}: the served models as OpenAI model objects.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { ServedModel } from '../../registry/registry.ts';
import type { OpenAIRoutesOptions } from './index.ts';

const OpenAIModel = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('model'),
    created: Type.Integer({ description: 'Unix seconds: when the server started.' }),
    owned_by: Type.String(),
  },
  { $id: 'OpenAIModel' },
);

const ModelList = Type.Object({ object: Type.Literal('list'), data: Type.Array(OpenAIModel) });

export async function modelListRoutes(
  app: FastifyInstance,
  { registry }: OpenAIRoutesOptions,
): Promise<void> {
  const started = Math.floor(Date.now() / 1000);
  const view = (m: ServedModel) => ({
    id: m.name,
    object: 'model' as const,
    created: started,
    owned_by: 'hubserve',
  });
  const tags = ['openai'];
  app.addSchema(OpenAIModel);
  app.get(
    '/models',
    { schema: { summary: 'List models (OpenAI)', tags, response: { 200: ModelList } } },
    async () => ({ object: 'list' as const, data: registry.list().map(view) }),
  );
  // Names may hold one slash (org/name), as on the Hub.
  const describe = { schema: { summary: 'Describe a model (OpenAI)', tags, response: { 200: OpenAIModel } } };
  const named = (request: FastifyRequest) => {
    const { org, name } = request.params as { org?: string; name: string };
    return view(registry.get(org === undefined ? name : `${org}/${name}`));
  };
  app.get('/models/:name', describe, async (request) => named(request));
  app.get('/models/:org/:name', describe, async (request) => named(request));
}
