// GET /v1/models and GET /v1/models/{model}: the served models as OpenAI model objects.
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { viewerOf } from '../viewer.ts';
import type { OpenAIRoutesOptions } from './options.ts';
import { type ModelPathRequest, modelNameOf } from '../model-path.ts';

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
  const view = (name: string) => ({
    id: name,
    object: 'model' as const,
    created: started,
    owned_by: 'hubserve',
  });
  const tags = ['openai'];
  app.addSchema(OpenAIModel);
  app.get(
    '/models',
    { schema: { summary: 'List models (OpenAI)', tags, response: { 200: ModelList } } },
    async (request) => {
      const names = new Set(registry.list(viewerOf(request)).map((m) => m.name));
      return { object: 'list' as const, data: [...names].map(view) };
    },
  );
  // Names may hold one slash (org/name), as on the Hub.
  const describe = { schema: { summary: 'Describe a model (OpenAI)', tags, response: { 200: OpenAIModel } } };
  const named = (request: ModelPathRequest) => {
    const ref = modelNameOf(request.params);
    registry.route(ref, viewerOf(request)); // 404 for what the caller cannot reach
    return view(ref);
  };
  app.get('/models/:name', describe, named);
  app.get('/models/:org/:name', describe, named);
}
