// Heads every encoder family shares: a classifier on each token, and the start/end span head.
import { firstToken, linear, type Builder } from '../layers.ts';
import { DType } from '../onnx/graph.ts';
import { type Config, type HeadOutputs, labelCount } from './architecture.ts';

const TOKEN_DIMS = ['batch_size', 'sequence_length'] as const;

/** `classifier` on every hidden state -> logits [b, s, labels]. */
export function tokenClassification(b: Builder, config: Config, hidden: string, width: number): HeadOutputs {
  const labels = labelCount(config);
  return { logits: { value: linear(b, 'classifier', hidden, width, labels), dims: [...TOKEN_DIMS, labels] } };
}

/** `qa_outputs` (2 outputs) split into start_logits and end_logits [b, s]. */
export function questionAnswering(b: Builder, hidden: string, width: number): HeadOutputs {
  const { g } = b;
  const spans = linear(b, 'qa_outputs', hidden, width, 2);
  const [start, end] = g.node('Split', [spans, g.i64([1, 1])], { axis: { i: -1 } }, ['qa_start', 'qa_end']);
  return {
    start_logits: { value: g.squeeze(start as string, [-1]), dims: TOKEN_DIMS },
    end_logits: { value: g.squeeze(end as string, [-1]), dims: TOKEN_DIMS },
  };
}

/** `{name}.dense` -> activation -> `{name}.out_proj` on the first token (RoBERTa, ELECTRA, MPNet). */
export function firstTokenClassifier(
  b: Builder,
  config: Config,
  hidden: string,
  width: number,
  activate: (x: string) => string,
): HeadOutputs {
  const labels = labelCount(config);
  const x = activate(linear(b, 'classifier.dense', firstToken(b.g, hidden), width, width));
  return {
    logits: { value: linear(b, 'classifier.out_proj', x, width, labels), dims: ['batch_size', labels] },
  };
}

/** The vocabulary projection tied to the input embeddings: h Eᵀ + bias -> logits [b, s, vocab]. */
export function tiedDecoder(
  b: Builder,
  hidden: string,
  embeddings: string,
  decoder: string,
  bias: string,
  vocab: number,
  width: number,
): HeadOutputs {
  const { g, w } = b;
  // A decoder.weight of its own (untied checkpoints) wins over the input embeddings.
  const own = w.has(`${decoder}.weight`);
  const source = own ? `${decoder}.weight` : embeddings;
  const table = g.weight(`${source}.T`, DType.float, [width, vocab], w.transposed(source, vocab, width));
  const biasName = w.has(bias) ? bias : `${decoder}.bias`;
  const logits = g.add(
    g.matmul(hidden, table),
    g.weight(biasName, DType.float, [vocab], w.tensor(biasName, [vocab])),
  );
  return { logits: { value: logits, dims: [...TOKEN_DIMS, vocab] } };
}
