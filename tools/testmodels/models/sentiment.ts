// text-classification: a lexicon of positive and negative words decides POSITIVE/NEGATIVE, and an odd
// number of negations ("not", "never", "don't") flips it. Also written quantized (int8 table with
// DequantizeLinear) as onnx/model_quantized.onnx, so dtype q8 has a file of its own.
import { bertInputs, encoderFolder, labelMaps, parity, sumTokens, tokenTable } from '../encoders.ts';
import { bertTokenizer } from '../encoders.ts';
import { NEGATION_WORDS, NEGATIVE_WORDS, POSITIVE_WORDS } from '../lexicon.ts';
import type { ModelFolder } from '../layout.ts';
import { DType, Graph } from '../../../src/convert/onnx/graph.ts';

const LABELS = ['NEGATIVE', 'POSITIVE'] as const;
const positive = new Set<string>(POSITIVE_WORDS);
const negative = new Set<string>(NEGATIVE_WORDS);
const negation = new Set<string>(NEGATION_WORDS);

/** Per token: [polarity (+1/-1), is a negation (1/0)]. */
const polarity = (token: string): number[] | undefined =>
  positive.has(token) ? [1, 0] : negative.has(token) ? [-1, 0] : negation.has(token) ? [0, 1] : undefined;

function graph(quantized: boolean): Uint8Array {
  const g = new Graph('sentiment');
  const { ids, mask } = bertInputs(g, false);
  const { vocab } = bertTokenizer;
  let table = tokenTable(g, 'polarity_fp32', vocab, 2, polarity);
  if (quantized) {
    // The table's values are -1, 0, 1: int8 with scale 1/127 keeps them to within 1e-7.
    const q = new Int8Array(vocab.size * 2);
    for (const [token, id] of vocab) (polarity(token) ?? [0, 0]).forEach((v, j) => (q[id * 2 + j] = v * 127));
    const qTable = g.weight('polarity_int8', DType.int8, [vocab.size, 2], q);
    const zero = g.weight('polarity_zero_point', DType.int8, [], new Int8Array([0]));
    table = g.op('DequantizeLinear', [qTable, g.f32([1 / 127]), zero]);
  }
  const totals = sumTokens(g, g.gather(table, ids), mask); // [b, 2]
  const score = g.mul(g.slice(totals, 1, 0, 1), parity(g, g.slice(totals, 1, 1, 2))); // [b, 1]
  const logits = g.add(g.matmul(score, g.f32([-2, 2], [1, 2])), g.f32([0, 0.05], [2]));
  g.output('logits', logits, DType.float, ['batch_size', LABELS.length]);
  return g.toBytes();
}

export function build(): ModelFolder {
  return encoderFolder({
    id: 'hubserve-test/tiny-sentiment',
    task: 'text-classification',
    description: 'Sentiment: a lexicon of positive and negative words decides; negations flip it.',
    config: { architectures: ['BertForSequenceClassification'], ...labelMaps(LABELS) },
    onnx: { 'model.onnx': graph(false), 'model_quantized.onnx': graph(true) },
  });
}
