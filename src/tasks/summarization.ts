// summarization: Summarize texts.
import Type from 'typebox';
import { outputOf, runSeq2Seq, seq2seqInputs, seq2seqParameters } from './seq2seq.ts';
import { defineTask } from './types.ts';

export default defineTask({
  name: 'summarization',
  summary: 'Summarize texts.',
  modelClass: 'seq2seq-lm',
  inputs: seq2seqInputs,
  parameters: Type.Object(seq2seqParameters, { additionalProperties: false }),
  output: outputOf('summary_text'),
  example: { inputs: 'Yesterday Alice Smith flew from London to Paris for a football match with her team.' },
  splittable: true,
  run: (model, inputs, parameters) => runSeq2Seq(model, 'summary_text', inputs, parameters),
});
