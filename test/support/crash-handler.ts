// A handler whose worker dies on request ("crash"): for testing that a dead worker fails only its
// own requests and is replaced.
import Type from 'typebox';
import { classifyLogits, defineHandler, Text } from '../../src/handler.ts';

export default defineHandler({
  name: 'crash-test',
  summary: 'Classifies, or ends its worker thread when asked to.',
  modelClass: 'sequence-classification',
  inputs: Text,
  parameters: Type.Object({}),
  output: Type.Unknown(),
  example: { inputs: 'warm up' },
  preprocess: (inputs) => [inputs],
  async infer(model, items) {
    if (items[0] === 'crash') process.exit(1); // in a worker thread: ends that thread only
    return classifyLogits(model, items, undefined, false);
  },
  postprocess: (raw) => raw,
});
