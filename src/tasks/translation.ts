// translation: Translate texts (the model decides the languages).
import Type from 'typebox';
import { outputOf, runSeq2Seq, seq2seqInputs, seq2seqParameters } from './seq2seq.ts';
import { defineTask } from './types.ts';

export default defineTask({
  name: 'translation',
  summary: 'Translate texts (the model decides the languages).',
  modelClass: 'seq2seq-lm',
  inputs: seq2seqInputs,
  parameters: Type.Object(seq2seqParameters, { additionalProperties: false }),
  output: outputOf('translation_text'),
  example: { inputs: 'The cat drinks water' },
  splittable: true,
  run: (model, inputs, parameters) => runSeq2Seq(model, 'translation_text', inputs, parameters),
});
