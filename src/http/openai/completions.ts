// POST /v1/completions: continue a prompt (or several, one choice each).
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { ServeError } from '../../errors.ts';
import { type Dialect, generateResponse, samplingFields } from './generation.ts';
import type { OpenAIRoutesOptions } from './options.ts';
import { typed } from '../typed.ts';

const Prompt = Type.String({ minLength: 1 });

const CompletionRequest = Type.Object(
  {
    ...samplingFields,
    prompt: Type.Union([Prompt, Type.Array(Prompt, { minItems: 1, maxItems: 64 })], {
      description: 'Text or texts (token ids are not accepted: send text).',
    }),
    echo: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    suffix: Type.Optional(Type.Null({ description: 'Not supported.' })),
    best_of: Type.Optional(Type.Union([Type.Literal(1), Type.Null()])),
  },
  {
    $id: 'OpenAICompletionRequest',
    additionalProperties: false, // as OpenAI: an unknown field is an error, not ignored
    examples: [{ model: 'gpt2', prompt: 'Once upon a', max_tokens: 20 }],
  },
);

const completion: Dialect = {
  object: 'text_completion',
  chunkObject: 'text_completion',
  idPrefix: 'cmpl',
  choice: (text, finish_reason, index) => ({ index, text, finish_reason, logprobs: null }),
  delta: (text, finish_reason) => ({ index: 0, text, finish_reason, logprobs: null }),
};

export async function completionRoutes(app: FastifyInstance, options: OpenAIRoutesOptions): Promise<void> {
  typed(app).post(
    '/completions',
    { schema: { summary: 'Text completion (OpenAI)', tags: ['openai'], body: CompletionRequest } },
    async (request, reply) => {
      const { body } = request;
      if (body.echo && body.stream) {
        // The streamed tokens are the completion's; echo would need the prompt's tokens first.
        throw new ServeError('invalid_request', 'echo: not supported with stream', { param: 'echo' });
      }
      return generateResponse({
        registry: options.registry,
        request,
        reply,
        body,
        inputs: body.prompt,
        ...(body.echo ? { extra: { return_full_text: true } } : {}),
        dialect: completion,
      });
    },
  );
}
