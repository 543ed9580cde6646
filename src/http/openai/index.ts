// OpenAI-compatible routes under /v1: the clients people already use (the openai SDKs, LangChain,
// LlamaIndex, curl from OpenAI's docs) pointed at hubserve. Requests map onto the same tasks, schemas
// and batching as POST /models/{name}; errors come in OpenAI's shape.
import type { FastifyInstance } from 'fastify';
import { handleErrors, openaiFormat } from '../errors.ts';
import { strictValidatorCompiler } from '../validation.ts';
import { chatRoutes } from './chat.ts';
import { completionRoutes } from './completions.ts';
import { embeddingRoutes } from './embeddings.ts';
import { modelListRoutes } from './models.ts';
import type { OpenAIRoutesOptions } from './options.ts';

export type { OpenAIRoutesOptions } from './options.ts';

export async function openaiRoutes(app: FastifyInstance, options: OpenAIRoutesOptions): Promise<void> {
  handleErrors(app, openaiFormat);
  // As OpenAI does: no coercion, unknown parameters refused by name.
  app.setValidatorCompiler(strictValidatorCompiler);
  // Not `options` itself: it holds the /v1 prefix, which the routes inherit already.
  for (const routes of [modelListRoutes, embeddingRoutes, chatRoutes, completionRoutes]) {
    await app.register(routes, { registry: options.registry });
  }
}
