// text-ranking (rerank): a cross-encoder scores each text against the query; best first. A single-logit
// model's sigmoid is the relevance; an NLI model's entailment probability is.
import Type from 'typebox';
import { round, Text, textParameters } from './common.ts';
import { classifyLogits, defaultScoreFunction, score } from './text-classification.ts';
import { defineTask } from './types.ts';

const Ranked = Type.Object({
  index: Type.Integer(),
  score: Type.Number(),
  text: Type.Optional(Type.String()),
});

export default defineTask({
  name: 'text-ranking',
  summary: 'Rerank texts by relevance to a query with a cross-encoder.',
  modelClass: 'sequence-classification',
  inputs: Type.Object(
    { query: Text, texts: Type.Array(Text, { minItems: 1, maxItems: 256 }) },
    { additionalProperties: false },
  ),
  parameters: Type.Object(
    {
      top_k: Type.Optional(Type.Integer({ minimum: 1 })),
      return_text: Type.Optional(Type.Boolean({ description: 'Include each text in the answer.' })),
      raw_scores: Type.Optional(Type.Boolean({ description: 'Logits instead of probabilities.' })),
      truncate: textParameters.truncate,
    },
    { additionalProperties: false },
  ),
  output: Type.Array(Ranked),
  example: { inputs: { query: 'football', texts: ['The team won the match', 'Stocks fell sharply'] } },
  splittable: false,
  async run(model, { query, texts }, parameters, stream) {
    const logits = await classifyLogits(
      model,
      texts.map(() => query),
      texts,
      parameters.truncate,
      stream?.cancelled,
    );
    const relevant = Math.max(
      0,
      model.labels.findIndex((l) => /entail|relevant|^LABEL_1$/i.test(l)),
    );
    const column = model.labels.length === 1 ? 0 : relevant;
    const fn = parameters.raw_scores ? 'none' : defaultScoreFunction(model);
    return logits
      .map((row, index) => ({
        index,
        score: round(score(row, fn)[column] ?? 0),
        ...(parameters.return_text ? { text: texts[index] } : {}),
      }))
      .sort((a, b) => b.score - a.score)
      .slice(0, parameters.top_k ?? texts.length);
  },
});
