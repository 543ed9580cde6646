// A BERT-base-shaped sequence classifier for benchmarks: 12 layers, hidden 768, 12 heads, FFN 3072,
// vocab 30522, 512 positions; a real post-LayerNorm attention graph with random weights (std 0.02).
// Its outputs mean nothing; its cost is that of bert-base (~110M parameters, ~440 MB fp32).
import { BERT_TOKENIZER_CONFIG, labelMaps, SEQ_DIMS } from '../encoders.ts';
import { COMMON_WORDS, ENTITIES, NEGATIVE_WORDS, POSITIVE_WORDS, TOPICS } from '../lexicon.ts';
import type { ModelFolder } from '../layout.ts';
import { DType, Graph } from '../../../src/convert/onnx/graph.ts';
import { normals } from '../random.ts';
import { wordPiece } from '../tokenizers.ts';

export const BERT_BASE = {
  layers: 12,
  hidden: 768,
  heads: 12,
  ffn: 3072,
  vocab: 30522,
  positions: 512,
} as const;
const HEAD_DIM = BERT_BASE.hidden / BERT_BASE.heads;

/** 30522 tokens like bert-base-uncased's: known words whole, others in 2-3 letter pieces. */
function vocabularyWords(): string[] {
  const letters = [...'abcdefghijklmnopqrstuvwxyz'];
  const pairs = letters.flatMap((a) => letters.map((b) => a + b));
  const triples = pairs.flatMap((p) => letters.map((c) => p + c));
  const words = [
    ...COMMON_WORDS,
    ...POSITIVE_WORDS,
    ...NEGATIVE_WORDS,
    ...Object.values(TOPICS).flat(),
    ...Object.values(ENTITIES).flat(),
    ...pairs,
    ...pairs.map((p) => `##${p}`),
    ...triples,
    ...triples.map((t) => `##${t}`),
  ];
  return words;
}

function graph(): Uint8Array {
  const { layers, hidden, heads, ffn, vocab, positions } = BERT_BASE;
  const g = new Graph('bert_base');
  let seed = 1;
  const param = (name: string, dims: readonly number[]): string =>
    g.weight(
      name,
      DType.float,
      dims,
      normals(
        dims.reduce((a, b) => a * b, 1),
        0.02,
        seed++,
      ),
    );
  const constant = (name: string, dims: readonly number[], value: number): string =>
    g.weight(name, DType.float, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value));
  const layerNorm = (x: string, name: string): string =>
    g.op(
      'LayerNormalization',
      [x, constant(`${name}.gamma`, [hidden], 1), constant(`${name}.beta`, [hidden], 0)],
      {
        axis: { i: -1 },
        epsilon: { f: 1e-12 },
      },
    );
  const dense = (x: string, name: string, inDim: number, outDim: number): string =>
    g.add(g.matmul(x, param(`${name}.weight`, [inDim, outDim])), constant(`${name}.bias`, [outDim], 0));
  // erf-GELU, the pattern ORT fuses into its Gelu kernel.
  const gelu = (x: string): string =>
    g.mul(g.mul(x, g.f32([0.5])), g.add(g.f32([1]), g.op('Erf', [g.div(x, g.f32([Math.SQRT2]))])));

  const ids = g.input('input_ids', DType.int64, SEQ_DIMS);
  const mask = g.input('attention_mask', DType.int64, SEQ_DIMS);
  const types = g.input('token_type_ids', DType.int64, SEQ_DIMS);
  const positionIds = g.op('Range', [g.i64([0], []), g.squeeze(g.dimOf(ids, 1), [0]), g.i64([1], [])]);
  let x = g.add(
    g.add(
      g.gather(param('embeddings.word', [vocab, hidden]), ids),
      g.gather(param('embeddings.position', [positions, hidden]), positionIds),
    ),
    g.gather(param('embeddings.token_type', [2, hidden]), types),
  );
  x = layerNorm(x, 'embeddings.norm');
  const maskBias = g.unsqueeze(g.mul(g.sub(g.toFloat(mask), g.f32([1])), g.f32([1e4])), [1, 2]); // [b,1,1,s]
  const splitHeads = (t: string): string => g.transpose(g.reshape(t, [0, 0, heads, HEAD_DIM]), [0, 2, 1, 3]);

  for (let l = 0; l < layers; l++) {
    const p = `layer.${l}`;
    const q = splitHeads(dense(x, `${p}.query`, hidden, hidden));
    const k = g.transpose(
      g.reshape(dense(x, `${p}.key`, hidden, hidden), [0, 0, heads, HEAD_DIM]),
      [0, 2, 3, 1],
    );
    const v = splitHeads(dense(x, `${p}.value`, hidden, hidden));
    const scores = g.add(g.div(g.matmul(q, k), g.f32([Math.sqrt(HEAD_DIM)])), maskBias);
    const context = g.reshape(g.transpose(g.matmul(g.softmax(scores), v), [0, 2, 1, 3]), [0, 0, hidden]);
    x = layerNorm(g.add(x, dense(context, `${p}.attention_output`, hidden, hidden)), `${p}.attention_norm`);
    const inner = gelu(dense(x, `${p}.intermediate`, hidden, ffn));
    x = layerNorm(g.add(x, dense(inner, `${p}.output`, ffn, hidden)), `${p}.output_norm`);
  }
  const first = g.squeeze(g.slice(x, 1, 0, 1), [1]); // [CLS]
  const pooled = g.op('Tanh', [dense(first, 'pooler', hidden, hidden)]);
  g.output('logits', dense(pooled, 'classifier', hidden, 2), DType.float, ['batch_size', 2]);
  return g.toBytes();
}

export function build(): ModelFolder {
  const tokenizer = wordPiece(vocabularyWords(), BERT_BASE.vocab);
  return {
    id: 'hubserve-test/bert-base-bench',
    task: 'text-classification',
    description: 'BERT-base-shaped classifier with random weights, for benchmarks (outputs are meaningless).',
    config: {
      model_type: 'bert',
      architectures: ['BertForSequenceClassification'],
      vocab_size: BERT_BASE.vocab,
      hidden_size: BERT_BASE.hidden,
      num_hidden_layers: BERT_BASE.layers,
      num_attention_heads: BERT_BASE.heads,
      intermediate_size: BERT_BASE.ffn,
      max_position_embeddings: BERT_BASE.positions,
      type_vocab_size: 2,
      ...labelMaps(['NEGATIVE', 'POSITIVE']),
    },
    tokenizer: tokenizer.tokenizerJson,
    tokenizerConfig: { ...BERT_TOKENIZER_CONFIG, model_max_length: BERT_BASE.positions },
    onnx: { 'model.onnx': graph() },
  };
}
