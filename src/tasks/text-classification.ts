// text-classification: one text or a text pair (NLI, paraphrase) -> labels with scores, best first.
import type { Tensor } from '@huggingface/transformers';
import Type from 'typebox';
import { asArray, encode, inChunks, rows, round, sigmoid, softmax, Text, textParameters } from './common.ts';
import { defineTask, type ModelContext } from './types.ts';

const Pair = Type.Object({ text: Text, text_pair: Text }, { additionalProperties: false });
const Input = Type.Union([Text, Pair]);
export const LabelScore = Type.Object({ label: Type.String(), score: Type.Number() });

export type ScoreFunction = 'softmax' | 'sigmoid' | 'none';

/** The model's own choice: independent sigmoids for multi-label or single-logit models, else softmax. */
export function defaultScoreFunction(model: ModelContext): ScoreFunction {
  return model.config.problem_type === 'multi_label_classification' || model.labels.length === 1
    ? 'sigmoid'
    : 'softmax';
}

export function score(logits: number[], fn: ScoreFunction): number[] {
  if (fn === 'softmax') return softmax(logits);
  return fn === 'sigmoid' ? logits.map(sigmoid) : logits;
}

/** Logits for a batch of texts (or pairs), [batch, labels]. */
export async function classifyLogits(
  model: ModelContext,
  texts: string[],
  pairs: string[] | undefined,
  truncate: boolean | undefined,
  cancelled?: () => boolean,
): Promise<number[][]> {
  return inChunks(
    texts,
    async (chunk, offset) => {
      const encoded = encode(model, chunk, {
        truncate,
        ...(pairs ? { pairs: pairs.slice(offset, offset + chunk.length) } : {}),
      });
      const { logits } = (await model.model(encoded)) as { logits: Tensor };
      return rows(logits);
    },
    cancelled,
  );
}

export default defineTask({
  name: 'text-classification',
  summary: 'Classify texts or text pairs (sentiment, topics, NLI).',
  modelClass: 'sequence-classification',
  inputs: Type.Union([Input, Type.Array(Input, { minItems: 1, maxItems: 256 })]),
  parameters: Type.Object(
    {
      top_k: Type.Optional(
        Type.Integer({ minimum: 1, description: 'How many labels to return (default: all).' }),
      ),
      function_to_apply: Type.Optional(
        Type.Enum(['softmax', 'sigmoid', 'none'], {
          description: "Default: the model's (sigmoid for multi-label).",
        }),
      ),
      ...textParameters,
    },
    { additionalProperties: false },
  ),
  output: Type.Array(Type.Array(LabelScore)),
  example: { inputs: 'I love this wonderful film' },
  splittable: true,
  batching: 'wrapped',
  async run(model, inputs, parameters, stream) {
    const items = asArray(inputs);
    const texts = items.map((i) => (typeof i === 'string' ? i : i.text));
    const pairs = items.some((i) => typeof i !== 'string')
      ? items.map((i) => (typeof i === 'string' ? '' : i.text_pair))
      : undefined;
    const fn = parameters.function_to_apply ?? defaultScoreFunction(model);
    const logits = await classifyLogits(model, texts, pairs, parameters.truncate, stream?.cancelled);
    return logits.map((row) =>
      score(row, fn)
        .map((s, i) => ({ label: model.labels[i] ?? `LABEL_${i}`, score: round(s) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, parameters.top_k ?? model.labels.length),
    );
  },
});
