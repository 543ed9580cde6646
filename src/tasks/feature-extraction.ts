// feature-extraction: sentence embeddings (the model's own pooling where its graph has a
// sentence_embedding output, as converted sentence-transformers folders do; else mean or CLS pooling;
// normalized by default) or per-token vectors.
import type { Tensor } from '@huggingface/transformers';
import Type from 'typebox';
import { asArray, encode, inChunks, textParameters, Texts } from './common.ts';
import { defineTask, type ModelContext } from './types.ts';

export type Pooling = 'mean' | 'cls' | 'none';

const l2 = (v: number[]): number[] => {
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
};

/**
 * Embeddings of texts: [texts][dims] when pooled, [texts][tokens][dims] when not. Without a pooling
 * asked for, the model's sentence_embedding output when it has one, else mean pooling.
 */
export async function embed(
  model: ModelContext,
  texts: string[],
  pooling: Pooling | undefined,
  normalize: boolean,
  truncate: boolean | undefined,
  cancelled?: () => boolean,
): Promise<number[][] | number[][][]> {
  const vectors = await inChunks<string, number[] | number[][]>(
    texts,
    async (chunk) => {
      const encoded = encode(model, chunk, { truncate });
      const output = (await model.model(encoded)) as Record<string, Tensor | undefined>;
      const sentences = output.sentence_embedding;
      if (pooling === undefined && sentences) {
        const pooled = sentences.tolist() as number[][];
        return normalize ? pooled.map(l2) : pooled;
      }
      const hidden = output.last_hidden_state ?? output.token_embeddings ?? output.logits;
      if (!hidden) throw new Error(`the model has none of last_hidden_state, token_embeddings, logits`);
      const states = hidden.tolist() as number[][][];
      const masks = (encoded.attention_mask as Tensor).tolist() as bigint[][];
      return states.map((tokens, b) => {
        const kept = tokens.filter((_, i) => masks[b]?.[i] === 1n);
        if (pooling === 'none') return kept.map((v) => (normalize ? l2(v) : v));
        const pooled =
          pooling === 'cls'
            ? (tokens[0] ?? [])
            : (kept[0] ?? []).map((_, d) => kept.reduce((s, v) => s + (v[d] ?? 0), 0) / kept.length);
        return normalize ? l2(pooled) : pooled;
      });
    },
    cancelled,
  );
  return vectors as number[][] | number[][][];
}

export const poolingParameters = {
  pooling: Type.Optional(
    Type.Enum(['mean', 'cls', 'none'], {
      description: "Default: the model's own (sentence-transformers' Pooling, converted), else mean.",
    }),
  ),
  normalize: Type.Optional(Type.Boolean({ description: 'Unit-length vectors (default true).' })),
};

export default defineTask({
  name: 'feature-extraction',
  summary: 'Embed texts as vectors (sentence embeddings by default).',
  modelClass: 'feature-extraction',
  inputs: Texts,
  parameters: Type.Object(
    { ...poolingParameters, truncate: textParameters.truncate },
    { additionalProperties: false },
  ),
  output: Type.Union([
    Type.Array(Type.Number()),
    Type.Array(Type.Array(Type.Number())),
    Type.Array(Type.Array(Type.Array(Type.Number()))),
  ]),
  example: { inputs: 'A cat sits on the mat' },
  splittable: false,
  batching: 'unwrapped',
  async run(model, inputs, parameters, stream) {
    const vectors = await embed(
      model,
      asArray(inputs),
      parameters.pooling,
      parameters.normalize ?? true,
      parameters.truncate,
      stream?.cancelled,
    );
    return Array.isArray(inputs) ? vectors : (vectors[0] ?? []);
  },
});
