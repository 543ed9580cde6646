// Sentence-pair classification (NLI): premise and hypothesis are compared by topic. Same topic ->
// entailment, no shared topic -> neutral, same topic with an odd number of negations -> contradiction.
// Labels follow MNLI, so zero-shot classification ("This example is {label}.") works on it.
import {
  bertInputs,
  bertTokenizer,
  encoderFolder,
  labelMaps,
  oneHot,
  parity,
  sumTokens,
  tokenTable,
} from '../encoders.ts';
import { NEGATION_WORDS, TOPIC_NAMES, topicOf } from '../lexicon.ts';
import type { ModelFolder } from '../layout.ts';
import { DType, Graph } from '../../../src/convert/onnx/graph.ts';

const LABELS = ['contradiction', 'neutral', 'entailment'] as const;
const negation = new Set<string>(NEGATION_WORDS);

/** Cosine of two [b, n] rows, as [b, 1]. */
function cosine(g: Graph, a: string, b: string): string {
  const norm = (x: string): string => g.op('Sqrt', [g.reduceSum(g.mul(x, x), [1], true)]);
  const dot = g.reduceSum(g.mul(a, b), [1], true);
  return g.div(dot, g.add(g.mul(norm(a), norm(b)), g.f32([1e-6])));
}

function graph(): Uint8Array {
  const g = new Graph('nli');
  const { ids, mask, segment } = bertInputs(g, true);
  const premise = g.mul(mask, g.sub(g.f32([1]), segment as string));
  const hypothesis = g.mul(mask, segment as string);
  const width = TOPIC_NAMES.length + 1; // topics, then "is a negation"
  const table = tokenTable(g, 'topic_negation', bertTokenizer.vocab, width, (token) => {
    const topic = topicOf(token);
    if (topic) return oneHot(TOPIC_NAMES.indexOf(topic), width);
    return negation.has(token) ? oneHot(width - 1, width) : undefined;
  });
  const features = g.gather(table, ids);
  const p = sumTokens(g, features, premise);
  const h = sumTokens(g, features, hypothesis);
  const topics = (x: string): string => g.slice(x, 1, 0, TOPIC_NAMES.length);
  const negations = g.add(g.slice(p, 1, TOPIC_NAMES.length, width), g.slice(h, 1, TOPIC_NAMES.length, width));
  const agreement = g.mul(cosine(g, topics(p), topics(h)), parity(g, negations)); // [b, 1] in [-1, 1]
  const logits = g.add(g.matmul(agreement, g.f32([-6, 0, 6], [1, 3])), g.f32([0, 0.5, -3], [3]));
  g.output('logits', logits, DType.float, ['batch_size', LABELS.length]);
  return g.toBytes();
}

export function build(): ModelFolder {
  return encoderFolder({
    id: 'hubserve-test/tiny-nli',
    task: 'zero-shot-classification',
    description: 'NLI by topic overlap (entailment / neutral / contradiction); works for zero-shot.',
    config: { architectures: ['BertForSequenceClassification'], ...labelMaps(LABELS) },
    onnx: { 'model.onnx': graph() },
  });
}
