// sentence-similarity: cosine similarity of a source sentence to each of several sentences.
import Type from 'typebox';
import { round, Text, textParameters } from './common.ts';
import { embed } from './feature-extraction.ts';
import { defineTask } from './types.ts';

export default defineTask({
  name: 'sentence-similarity',
  summary: 'How similar each sentence is to a source sentence (cosine of embeddings).',
  modelClass: 'feature-extraction',
  inputs: Type.Object(
    { source_sentence: Text, sentences: Type.Array(Text, { minItems: 1, maxItems: 256 }) },
    { additionalProperties: false },
  ),
  parameters: Type.Object({ truncate: textParameters.truncate }, { additionalProperties: false }),
  output: Type.Array(Type.Number()),
  example: {
    inputs: {
      source_sentence: 'A cat sits on the mat',
      sentences: ['My kitten sleeps', 'The stock market fell'],
    },
  },
  splittable: false,
  async run(model, { source_sentence, sentences }, parameters, stream) {
    const [source, ...others] = (await embed(
      model,
      [source_sentence, ...sentences],
      undefined,
      true,
      parameters.truncate,
      stream?.cancelled,
    )) as number[][];
    return others.map((v) => round(v.reduce((s, x, i) => s + x * (source?.[i] ?? 0), 0)));
  },
});
