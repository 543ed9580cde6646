// OpenAI-compatible routes under /v1: the clients people already use (the openai SDKs, LangChain,
// LlamaIndex, curl from OpenAI's docs) pointed at hubserve. Requests map onto the same tasks, schemas
// and batching as POST /models/{name}; errors come in OpenAI's shape.
import type { FastifyInstance } from 'fastify';
import { Compile } from 'typebox/compile';
import type { TSchema } from 'typebox';
import { ServeError } from '../../errors.ts';
import type { Registry } from '../../registry/registry.ts';
import { handleErrors, openaiFormat } from '../errors.ts';
import { chatRoutes } from './chat.ts';
import { completionRoutes } from './completions.ts';
import { embeddingRoutes } from './embeddings.ts';
import { modelListRoutes } from './models.ts';

export interface OpenAIRoutesOptions {
  registry: Registry;
}

/**
 * Validates a body against its TypeBox schema as OpenAI does: no type coercion, and the first
 * problem named by its parameter.
 */
function validatorCompiler({ schema }: { schema: TSchema }) {
  const validator = Compile(schema);
  return (data: unknown) => {
    if (validator.Check(data)) return { value: data };
    const [first] = [...validator.Errors(data)].filter((e) => e.message !== 'schema is false');
    const extra = (first?.params as { additionalProperties?: string[] } | undefined)?.additionalProperties;
    const param = extra?.[0] ?? first?.instancePath.slice(1).replaceAll('/', '.') ?? '';
    const message = extra ? `unknown parameter ${extra.join(', ')}` : `${param || 'body'}: ${first?.message}`;
    return { error: new ServeError('invalid_request', message, { param: param || null }) };
  };
}

export async function openaiRoutes(app: FastifyInstance, options: OpenAIRoutesOptions): Promise<void> {
  handleErrors(app, openaiFormat);
  app.setValidatorCompiler(validatorCompiler);
  // Not `options` itself: it holds the /v1 prefix, which the routes inherit already.
  for (const routes of [modelListRoutes, embeddingRoutes, chatRoutes, completionRoutes]) {
    await app.register(routes, { registry: options.registry });
  }
}
