// T5 and mT5 (transformers/models/t5/modeling_t5.py): one `shared` embedding table, pre-norm blocks
// with T5's RMS LayerNorm (no bias, no mean), attention without 1/√d and with a relative position
// bias (block 0's table, bidirectional buckets in the encoder, causal in the decoder, used by every
// layer), the ReLU (v1.0) or gated-GELU (v1.1, flan) feed-forward, and an LM head of its own or tied
// to `shared`, whose input is then scaled by d_model^-0.5.
import { ServeError } from '../../errors.ts';
import { type Config, num, str } from '../architectures/architecture.ts';
import {
  activation,
  type AttentionHeads,
  type Builder,
  cachedAttention,
  crossKeyValue,
  linearAsStored,
  paddingBias,
  projectOntoRows,
  rmsNorm,
  scaledAttention,
  table,
  toHeads,
} from '../layers.ts';
import { DType, type Graph } from '../onnx/graph.ts';
import type { LayerCache, Seq2SeqArchitecture, Seq2SeqShape } from './architecture.ts';

/**
 * T5Attention._relative_position_bucket for one relative position (key − query), in float32 as
 * PyTorch computes it: float32 rounding decides the bucket where the log lands on an integer.
 */
export function relativePositionBucket(
  relative: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): number {
  let buckets = numBuckets;
  let bucket = 0;
  let distance: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (relative > 0) bucket += buckets;
    distance = Math.abs(relative);
  } else {
    distance = -Math.min(relative, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (distance < maxExact) return bucket + distance;
  const f = Math.fround;
  const logRatio = f(Math.log(f(distance / maxExact)));
  const scaled = f(f(logRatio / f(Math.log(maxDistance / maxExact))) * (buckets - maxExact));
  return bucket + Math.min(maxExact + Math.trunc(scaled), buckets - 1);
}

interface BucketSpec {
  numBuckets: number;
  maxDistance: number;
}

/**
 * The relative position bias [1, heads, s, t] for query positions `queries` [s] and key positions
 * `keys` [t] (int64): positions further apart than max_distance all fall in the last bucket, so the
 * buckets of −max_distance ... max_distance are a table, and the graph clamps and looks up.
 */
function positionBias(
  g: Graph,
  weights: string,
  queries: string,
  keys: string,
  bidirectional: boolean,
  { numBuckets, maxDistance }: BucketSpec,
): string {
  const span = Math.max(maxDistance, numBuckets);
  const buckets = BigInt64Array.from({ length: 2 * span + 1 }, (_, i) =>
    BigInt(relativePositionBucket(i - span, bidirectional, numBuckets, maxDistance)),
  );
  const table = g.weight(
    `t5.buckets.${bidirectional ? 'bidirectional' : 'causal'}`,
    DType.int64,
    [2 * span + 1],
    buckets,
  );
  const relative = g.sub(g.unsqueeze(keys, [0]), g.unsqueeze(queries, [1]));
  const clamped = g.op('Min', [g.op('Max', [relative, g.i64([-span], [])]), g.i64([span], [])]);
  const bias = g.gather(weights, g.gather(table, g.add(clamped, g.i64([span], []))));
  return g.unsqueeze(g.transpose(bias, [2, 0, 1]), [0]);
}

/** `feed_forward_proj` as T5Config reads it: "relu", "gated-gelu" (gelu_new), "gated-silu", ... */
function feedForward(config: Config): { act: string; gated: boolean } {
  const proj = str(config, 'feed_forward_proj', 'relu');
  const parts = proj.split('-');
  const gated = parts[0] === 'gated';
  if (parts.length > 2 || (parts.length === 2 && !gated)) {
    throw new ServeError('invalid_config', `feed_forward_proj "${proj}" is not "gated-{ACT}" or "{ACT}"`, {
      feed_forward_proj: proj,
    });
  }
  const act = parts.at(-1) as string;
  return { act: proj === 'gated-gelu' ? 'gelu_new' : act, gated };
}

function shapeOf(config: Config): Seq2SeqShape {
  const layers = num(config, 'num_layers');
  return {
    hidden: num(config, 'd_model'),
    heads: num(config, 'num_heads'),
    kvHeads: num(config, 'num_heads'),
    headDim: num(config, 'd_kv'),
    decoderLayers: num(config, 'num_decoder_layers', layers),
    vocab: num(config, 'vocab_size'),
  };
}

const BIAS_TABLE = 'layer.0.SelfAttention.relative_attention_bias.weight';

export const t5: Seq2SeqArchitecture = {
  modelTypes: ['t5', 'mt5'],
  basePrefix: 'transformer',
  // Older checkpoints hold `shared` under each stack's name too, and a tied head's copy.
  ignored: [/^(encoder|decoder)\.embed_tokens\.weight$/],
  shape: shapeOf,
  encoder(b, config, io) {
    const { g } = b;
    const shape = shapeOf(config);
    const ctx = t5Context(b, config, shape);
    const positions = g.op('Range', [g.i64([0], []), g.squeeze(g.dimOf(io.ids, 1), [0]), g.i64([1], [])]);
    const bias = g.add(ctx.positionBias('encoder', positions, positions), paddingBias(g, io.mask));
    let x = g.gather(ctx.shared, io.ids);
    for (let i = 0; i < num(config, 'num_layers'); i++) {
      const p = `encoder.block.${i}.layer`;
      const h = ctx.norm(`${p}.0.layer_norm`, x);
      const a = `${p}.0.SelfAttention`;
      const [q, k, v] = ['q', 'k', 'v'].map((n) =>
        toHeads(g, ctx.linear(`${a}.${n}`, h, 'in'), shape.heads, shape.headDim),
      ) as [string, string, string];
      x = g.add(x, ctx.linear(`${a}.o`, scaledAttention(g, q, k, v, bias, shape, 1), 'out'));
      x = g.add(x, ctx.feedForward(`${p}.1`, ctx.norm(`${p}.1.layer_norm`, x)));
    }
    return ctx.norm('encoder.final_layer_norm', x);
  },
  decoder(b, config, io) {
    const { g, w } = b;
    const shape = shapeOf(config);
    const ctx = t5Context(b, config, shape);
    const total = g.add(io.pastLength, g.dimOf(io.ids, 1));
    const queries = g.op('Range', [g.squeeze(io.pastLength, [0]), g.squeeze(total, [0]), g.i64([1], [])]);
    const keys = g.op('Range', [g.i64([0], []), g.squeeze(total, [0]), g.i64([1], [])]);
    const selfBias = g.add(ctx.positionBias('decoder', queries, keys), io.selfBias);
    let x = g.gather(ctx.shared, io.ids);
    const presents: LayerCache[] = [];
    for (let i = 0; i < shape.decoderLayers; i++) {
      const p = `decoder.block.${i}.layer`;
      const past = io.past[i] as LayerCache;
      const h = ctx.norm(`${p}.0.layer_norm`, x);
      const a = `${p}.0.SelfAttention`;
      const [q, k, v] = ['q', 'k', 'v'].map((n) => ctx.linear(`${a}.${n}`, h, 'in')) as [
        string,
        string,
        string,
      ];
      const attention = cachedAttention(g, { q, k, v }, past.self, selfBias, shape, undefined, 1);
      x = g.add(x, ctx.linear(`${a}.o`, attention.context, 'out'));
      const c = `${p}.1.EncDecAttention`;
      const n = ctx.norm(`${p}.1.layer_norm`, x);
      const cross = crossKeyValue(
        g,
        io.encoderHidden,
        past.cross,
        (rows) => ({ k: ctx.linear(`${c}.k`, rows, 'in'), v: ctx.linear(`${c}.v`, rows, 'in') }),
        shape,
      );
      const query = toHeads(g, ctx.linear(`${c}.q`, n, 'in'), shape.heads, shape.headDim);
      const context = scaledAttention(g, query, cross.key, cross.value, io.encoderBias, shape, 1);
      x = g.add(x, ctx.linear(`${c}.o`, context, 'out'));
      x = g.add(x, ctx.feedForward(`${p}.2`, ctx.norm(`${p}.2.layer_norm`, x)));
      presents.push({ self: { key: attention.key, value: attention.value }, cross });
    }
    x = ctx.norm('decoder.final_layer_norm', x);
    const tied = config['tie_word_embeddings'] !== false;
    if (tied) {
      // A tied checkpoint may still hold the head's copy of `shared`: the table is what counts.
      if (w.has('lm_head.weight')) w.tensor('lm_head.weight', [shape.vocab, shape.hidden]);
      x = g.mul(x, g.f32([Math.pow(shape.hidden, -0.5)], []));
    }
    const head = tied ? ctx.shared : table(b, 'lm_head.weight', shape.vocab, shape.hidden);
    return { logits: projectOntoRows(g, x, head, shape.vocab, shape.hidden), presents };
  },
};

/** What both stacks read from the config and the layers they are built from. */
function t5Context(b: Builder, config: Config, shape: Seq2SeqShape & AttentionHeads) {
  const { g } = b;
  const inner = shape.heads * shape.headDim;
  const eps = num(config, 'layer_norm_epsilon', 1e-6);
  const ff = feedForward(config);
  const width = num(config, 'd_ff');
  const linear = (name: string, x: string, dir: 'in' | 'out'): string =>
    dir === 'in'
      ? linearAsStored(b, name, x, shape.hidden, inner)
      : linearAsStored(b, name, x, inner, shape.hidden);
  const buckets = {
    numBuckets: num(config, 'relative_attention_num_buckets', 32),
    maxDistance: num(config, 'relative_attention_max_distance', 128),
  };
  return {
    shared: table(b, 'shared.weight', shape.vocab, shape.hidden),
    /** Block 0's relative position bias, bidirectional in the encoder and causal in the decoder. */
    positionBias: (stack: 'encoder' | 'decoder', queries: string, keys: string): string =>
      positionBias(
        g,
        table(b, `${stack}.block.0.${BIAS_TABLE}`, buckets.numBuckets, shape.heads),
        queries,
        keys,
        stack === 'encoder',
        buckets,
      ),
    linear,
    norm: (name: string, x: string) => rmsNorm(b, name, x, shape.hidden, eps),
    feedForward(p: string, x: string): string {
      const d = `${p}.DenseReluDense`;
      const up = (name: string) => linearAsStored(b, `${d}.${name}`, x, shape.hidden, width);
      const h = ff.gated
        ? g.mul(activation(g, up('wi_0'), ff.act), up('wi_1'))
        : activation(g, up('wi'), ff.act);
      return linearAsStored(b, `${d}.wo`, h, width, shape.hidden);
    },
  };
}
