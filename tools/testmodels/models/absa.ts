// Aspect-based sentiment as sentence-pair classification (the "auxiliary sentence" method): the first
// segment is a sentence, the second a question naming an aspect ("what do you think of the food?").
// The aspect's topic marks the words of the sentence about it; the sentiment words of the clauses
// that mention it decide (negations flip them). Labels: none (aspect not mentioned), negative,
// neutral, positive. "The food was great but the service was slow": food positive, service negative.
import {
  bertInputs,
  bertTokenizer,
  encoderFolder,
  labelMaps,
  oneHot,
  parity,
  tokenTable,
} from '../encoders.ts';
import {
  CLAUSE_BREAKS,
  NEGATION_WORDS,
  NEGATIVE_WORDS,
  POSITIVE_WORDS,
  TOPIC_NAMES,
  topicOf,
} from '../lexicon.ts';
import type { ModelFolder } from '../layout.ts';
import { DType, Graph } from '../../../src/convert/onnx/graph.ts';

const LABELS = ['none', 'negative', 'neutral', 'positive'] as const;
const positive = new Set<string>(POSITIVE_WORDS);
const negative = new Set<string>(NEGATIVE_WORDS);
const negation = new Set<string>(NEGATION_WORDS);
const breaks = new Set<string>(CLAUSE_BREAKS);

// Per token: [topic one-hot..., polarity, is a negation, ends a clause].
const T = TOPIC_NAMES.length;
const WIDTH = T + 3;

function features(token: string): number[] | undefined {
  const topic = topicOf(token);
  const row = topic ? oneHot(TOPIC_NAMES.indexOf(topic), WIDTH) : new Array<number>(WIDTH).fill(0);
  row[T] = positive.has(token) ? 1 : negative.has(token) ? -1 : 0;
  row[T + 1] = negation.has(token) ? 1 : 0;
  row[T + 2] = breaks.has(token) ? 1 : 0;
  return row.some((v) => v !== 0) ? row : undefined;
}

function graph(): Uint8Array {
  const g = new Graph('absa');
  const { ids, mask, segment } = bertInputs(g, true);
  const sentence = g.mul(mask, g.sub(g.f32([1]), segment as string)); // [b,s]
  const question = g.mul(mask, segment as string);
  const f = g.gather(tokenTable(g, 'absa_features', bertTokenizer.vocab, WIDTH, features), ids); // [b,s,W]
  const column = (k: number): string => g.squeeze(g.slice(f, 2, k, k + 1), [2]); // [b,s]
  const one = g.f32([1]);
  const atMostOne = (x: string): string => g.op('Min', [x, one]);

  const aspect = g.reduceSum(g.mul(g.slice(f, 2, 0, T), g.unsqueeze(question, [2])), [1], true); // [b,1,T]
  const aboutAspect = g.mul(atMostOne(g.reduceSum(g.mul(g.slice(f, 2, 0, T), aspect), [2])), sentence); // [b,s]
  const clause = g.op('CumSum', [g.mul(column(T + 2), sentence), g.i64([1], [])]); // clause index per token
  const sameClause = g.toFloat(g.op('Equal', [g.unsqueeze(clause, [2]), g.unsqueeze(clause, [1])])); // [b,s,s]
  const inAspectClause = g.mul(
    atMostOne(g.squeeze(g.matmul(sameClause, g.unsqueeze(aboutAspect, [2])), [2])),
    sentence,
  ); // [b,s]
  const within = (x: string): string => g.reduceSum(g.mul(x, inAspectClause), [1], true); // [b,1]
  const score = g.mul(within(column(T)), parity(g, within(column(T + 1))));
  const mentioned = atMostOne(g.reduceSum(aboutAspect, [1], true)); // [b,1]
  // none | negative | neutral | positive
  const logits = g.add(
    g.add(g.matmul(score, g.f32([0, -2, 0, 2], [1, 4])), g.matmul(mentioned, g.f32([-3, 0, 0.5, 0], [1, 4]))),
    g.f32([3, 0, 0, 0], [4]),
  );
  g.output('logits', logits, DType.float, ['batch_size', LABELS.length]);
  return g.toBytes();
}

export function build(): ModelFolder {
  return encoderFolder({
    id: 'hubserve-test/tiny-absa',
    task: 'text-classification',
    description: 'Aspect sentiment for (sentence, "what do you think of the <aspect>?") pairs.',
    config: { architectures: ['BertForSequenceClassification'], ...labelMaps(LABELS) },
    onnx: { 'model.onnx': graph() },
  });
}
