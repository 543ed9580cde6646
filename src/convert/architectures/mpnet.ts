// MPNet (models/mpnet/modeling_mpnet.py): RoBERTa-style embeddings without token types (positions from
// a fixed padding_idx of 1), BERT's post-LayerNorm blocks under its own names, and one relative position
// bias shared by every layer (T5-style buckets, bidirectional). Heads as RoBERTa's.
import {
  type Builder,
  embedding,
  layerNorm,
  paddedPositions,
  postNormBlock,
  attentionMask,
} from '../layers.ts';
import { DType } from '../onnx/graph.ts';
import { type Architecture, type Config, num } from './architecture.ts';
import { bertShape } from './bert.ts';
import { roberta } from './roberta.ts';

/** MPNetEmbeddings hard-codes it, whatever config.pad_token_id says. */
const PADDING_IDX = 1;
/** compute_position_bias calls the bucket function with its defaults, not the config's bucket count. */
const NUM_BUCKETS = 32;
const MAX_DISTANCE = 128;

/**
 * MPNetEncoder.relative_position_bucket for n = query - key, in torch's float32 arithmetic (log,
 * divide, multiply each rounded to float32, then truncated), so that bucket edges fall where torch's do.
 */
export function relativeBucket(n: number): number {
  const half = NUM_BUCKETS / 2;
  let bucket = n < 0 ? half : 0;
  const distance = Math.abs(n);
  const maxExact = half / 2;
  if (distance < maxExact) return bucket + distance;
  const f = Math.fround;
  const scaled = f(
    f(f(Math.log(f(distance / maxExact))) / f(Math.log(MAX_DISTANCE / maxExact))) * (half - maxExact),
  );
  bucket += Math.min(maxExact + Math.trunc(scaled), half - 1);
  return bucket;
}

/**
 * The bias [1, heads, s, s] added to every layer's scores: bias[h, i, j] = table[bucket(i - j), h].
 * Buckets are precomputed for every offset a sequence of `maxPositions` can have, and looked up by
 * (i - j) + maxPositions - 1 in the graph.
 */
function positionBias(b: Builder, ids: string, heads: number, buckets: number, maxPositions: number): string {
  const { g } = b;
  const byOffset = Array.from({ length: 2 * maxPositions - 1 }, (_, k) =>
    relativeBucket(k - (maxPositions - 1)),
  );
  const positions = g.op('Range', [g.i64([0], []), g.squeeze(g.dimOf(ids, 1), [0]), g.i64([1], [])]);
  const offsets = g.add(
    g.sub(g.unsqueeze(positions, [1]), g.unsqueeze(positions, [0])),
    g.i64([maxPositions - 1], []),
  );
  const bucketIds = g.gather(g.i64(byOffset), offsets);
  const name = `${b.w.bodyPrefix}encoder.relative_attention_bias.weight`;
  const table = g.weight(name, DType.float, [buckets, heads], b.w.tensor(name, [buckets, heads]));
  return g.unsqueeze(g.transpose(g.gather(table, bucketIds), [2, 0, 1]), [0]);
}

function mpnetBody(b: Builder, config: Config, ids: string, mask: string): string {
  const { g } = b;
  const shape = bertShape(config);
  const p = b.w.bodyPrefix;
  const maxPositions = num(config, 'max_position_embeddings');
  const words = embedding(b, `${p}embeddings.word_embeddings`, ids, shape.vocab, shape.hidden);
  const where = embedding(
    b,
    `${p}embeddings.position_embeddings`,
    paddedPositions(g, ids, PADDING_IDX),
    maxPositions,
    shape.hidden,
  );
  let x = layerNorm(b, `${p}embeddings.LayerNorm`, g.add(words, where), shape.hidden, shape.eps);
  const bias = positionBias(
    b,
    ids,
    shape.heads,
    num(config, 'relative_attention_num_buckets', NUM_BUCKETS),
    maxPositions,
  );
  const attending = attentionMask(g, mask);
  for (let i = 0; i < shape.layers; i++) {
    const l = `${p}encoder.layer.${i}`;
    x = postNormBlock(
      b,
      x,
      attending,
      {
        attention: {
          query: `${l}.attention.attn.q`,
          key: `${l}.attention.attn.k`,
          value: `${l}.attention.attn.v`,
          output: `${l}.attention.attn.o`,
        },
        attentionNorm: `${l}.attention.LayerNorm`,
        intermediate: `${l}.intermediate.dense`,
        output: `${l}.output.dense`,
        outputNorm: `${l}.output.LayerNorm`,
      },
      shape,
      bias,
    );
  }
  return x;
}

export const mpnet: Architecture = {
  modelTypes: ['mpnet'],
  basePrefix: 'mpnet',
  tokenTypes: false,
  hiddenSize: (config) => num(config, 'hidden_size'),
  optionalBody: [/^pooler\./],
  body: (b, config, inputs) => mpnetBody(b, config, inputs.ids, inputs.mask),
  // RoBERTa's heads, by the same names.
  head: (b, config, head, hidden) => roberta.head(b, config, head, hidden),
};
