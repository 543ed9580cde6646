// text2text-generation: Generate text from text with an encoder-decoder model.
import Type from 'typebox';
import { outputOf, runSeq2Seq, seq2seqInputs, seq2seqParameters } from './seq2seq.ts';
import { defineTask } from './types.ts';

export default defineTask({
  name: 'text2text-generation',
  summary: 'Generate text from text with an encoder-decoder model.',
  modelClass: 'seq2seq-lm',
  inputs: seq2seqInputs,
  parameters: Type.Object(seq2seqParameters, { additionalProperties: false }),
  output: outputOf('generated_text'),
  example: { inputs: 'The cat drinks water' },
  splittable: true,
  run: (model, inputs, parameters) => runSeq2Seq(model, 'generated_text', inputs, parameters),
});
