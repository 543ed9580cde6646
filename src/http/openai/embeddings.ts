// POST /v1/embeddings: sentence embeddings from a feature-extraction model, as floats or base64
// (little-endian float32, what the openai SDKs ask for by default), optionally shortened.
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { ServeError } from '../../errors.ts';
import { answer, prepare } from '../task-request.ts';
import { clientGone } from '../inference.ts';
import { recordInference } from '../observe.ts';
import { servedKey } from '../viewer.ts';
import type { OpenAIRoutesOptions } from './options.ts';
import { typed } from '../typed.ts';

const Text = Type.String({ minLength: 1 });
const TokenIds = Type.Array(Type.Integer());

const EmbeddingRequest = Type.Object(
  {
    model: Type.String(),
    input: Type.Union([Text, Type.Array(Text, { minItems: 1 }), TokenIds, Type.Array(TokenIds)], {
      description: 'Text or texts (token ids are not accepted: send text).',
    }),
    encoding_format: Type.Optional(Type.Enum(['float', 'base64'])),
    dimensions: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Keep the first N dimensions, renormalized (Matryoshka).' }),
    ),
    user: Type.Optional(Type.String()),
  },
  {
    $id: 'OpenAIEmbeddingRequest',
    additionalProperties: false, // as OpenAI: an unknown field is an error, not ignored
    examples: [{ model: 'embeddings', input: 'A cat sits on the mat' }],
  },
);

const EmbeddingResponse = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(
    Type.Object({
      object: Type.Literal('embedding'),
      index: Type.Integer(),
      embedding: Type.Union([Type.Array(Type.Number()), Type.String()]),
    }),
  ),
  model: Type.String(),
  usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() }),
});

/** The first `dimensions` of a unit vector, back to unit length. */
function shorten(vector: number[], dimensions: number): number[] {
  if (dimensions > vector.length) {
    throw new ServeError(
      'invalid_request',
      `dimensions: the model's embeddings have ${vector.length} dimensions; ask for at most that`,
      { param: 'dimensions', max_dimensions: vector.length },
    );
  }
  const kept = vector.slice(0, dimensions);
  const norm = Math.hypot(...kept) || 1;
  return kept.map((x) => x / norm);
}

const base64 = (vector: number[]): string => Buffer.from(new Float32Array(vector).buffer).toString('base64');

export async function embeddingRoutes(
  app: FastifyInstance,
  { registry }: OpenAIRoutesOptions,
): Promise<void> {
  typed(app).post(
    '/embeddings',
    {
      schema: {
        summary: 'Create embeddings (OpenAI)',
        tags: ['openai'],
        body: EmbeddingRequest,
        response: { 200: EmbeddingResponse },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const texts = Array.isArray(body.input) ? body.input : [body.input];
      if (!texts.every((t): t is string => typeof t === 'string')) {
        throw new ServeError('invalid_request', 'input: send text; token ids are not accepted', {
          param: 'input',
        });
      }
      const key = servedKey(request, registry, body.model);
      const record = recordInference(request, registry, key, 'feature-extraction');
      const prepared = await prepare(registry, key, { inputs: texts }, 'feature-extraction');
      const vectors = (await answer(registry, prepared, {
        signal: clientGone(reply),
        onReport: record.onReport,
      })) as number[][];
      const promptTokens = record.report?.inputTokens ?? 0;
      return {
        object: 'list' as const,
        data: vectors.map((vector, index) => {
          const kept = body.dimensions === undefined ? vector : shorten(vector, body.dimensions);
          return {
            object: 'embedding' as const,
            index,
            embedding: body.encoding_format === 'base64' ? base64(kept) : kept,
          };
        }),
        model: body.model,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      };
    },
  );
}
