// A handler whose worker misbehaves on request, for testing that the server contains it: "crash" ends
// its worker thread, "hang" loops forever on its event loop, "leak" keeps 32 MB it never frees,
// "slow" takes two seconds (work still in flight when the server is told to stop).
import Type from 'typebox';
import { classifyLogits, defineHandler, Text } from '../../src/handler.ts';

const kept: Uint8Array[] = [];

export default defineHandler({
  name: 'crash-test',
  summary: 'Classifies, or misbehaves when asked to.',
  modelClass: 'sequence-classification',
  inputs: Text,
  parameters: Type.Object({}),
  output: Type.Unknown(),
  example: { inputs: 'warm up' },
  preprocess: (inputs) => [inputs],
  async infer(model, items) {
    if (items[0] === 'crash') process.exit(1); // in a worker thread: ends that thread only
    if (items[0] === 'hang') for (;;); // the point of the test: an event loop that never comes back
    if (items[0] === 'leak') kept.push(new Uint8Array(32 * 2 ** 20).fill(1));
    if (items[0] === 'slow') await new Promise((resolve) => setTimeout(resolve, 2000));
    return classifyLogits(model, items, undefined, false);
  },
  postprocess: (raw) => raw,
});
