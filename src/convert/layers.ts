// The layers encoder architectures are built from, as ONNX subgraphs over a checkpoint's weights:
// linear, LayerNorm, activations, multi-head self-attention and the post-LayerNorm transformer block.
// Attention and residual + LayerNorm are ONNX Runtime's fused kernels (com.microsoft Attention,
// SkipLayerNormalization), the rest in the op patterns it fuses itself (Gelu, MatMul + Add).
import { ServeError } from '../errors.ts';
import { DType, type Graph } from './onnx/graph.ts';
import type { Weights } from './weights.ts';

export interface Builder {
  g: Graph;
  w: Weights;
}

/** The sequence axes every input and per-token output has. */
export const SEQ_DIMS = ['batch_size', 'sequence_length'] as const;

/** x Wᵀ for the weight of a torch Linear called `name` (`name.weight` [out, in]). */
function project(b: Builder, name: string, x: string, inDim: number, outDim: number): string {
  const weight = b.g.weight(
    `${name}.weight`,
    DType.float,
    [inDim, outDim],
    b.w.transposed(`${name}.weight`, outDim, inDim),
  );
  return b.g.matmul(x, weight);
}

const biasOf = (b: Builder, name: string, dim: number): string =>
  b.g.weight(`${name}.bias`, DType.float, [dim], b.w.tensor(`${name}.bias`, [dim]));

/** A torch Linear with a bias or without, as the checkpoint has it (Qwen2's q/k/v have one). */
export function linearAsStored(b: Builder, name: string, x: string, inDim: number, outDim: number): string {
  const y = project(b, name, x, inDim, outDim);
  return b.w.has(`${name}.bias`) ? b.g.add(y, biasOf(b, name, outDim)) : y;
}

/** y = x Wᵀ + b for a torch Linear called `name` (`name.weight` [out, in], `name.bias` [out]). */
export function linear(b: Builder, name: string, x: string, inDim: number, outDim: number): string {
  return b.g.add(project(b, name, x, inDim, outDim), biasOf(b, name, outDim));
}

const normWeights = (b: Builder, name: string, dim: number): [string, string] => [
  b.g.weight(`${name}.weight`, DType.float, [dim], b.w.tensor(`${name}.weight`, [dim])),
  biasOf(b, name, dim),
];

export function layerNorm(b: Builder, name: string, x: string, dim: number, eps: number): string {
  return b.g.op('LayerNormalization', [x, ...normWeights(b, name, dim)], {
    axis: { i: -1 },
    epsilon: { f: eps },
  });
}

/**
 * LayerNorm `norm` of (x Wᵀ + b) + residual, for the Linear `name`: the end of a post-LayerNorm
 * sub-block, as one of ONNX Runtime's fused SkipLayerNormalization kernels.
 */
function residualLayerNorm(
  b: Builder,
  name: string,
  norm: string,
  x: string,
  residual: string,
  inDim: number,
  outDim: number,
  eps: number,
): string {
  const inputs = [project(b, name, x, inDim, outDim), residual, ...normWeights(b, norm, outDim)];
  return b.g.msOp('SkipLayerNormalization', [...inputs, biasOf(b, name, outDim)], { epsilon: { f: eps } });
}

/** The checkpoint's [rows, width] tensor `name` (an embedding table) as an initializer. */
export const table = (b: Builder, name: string, rows: number, width: number): string =>
  b.g.weight(name, DType.float, [rows, width], b.w.tensor(name, [rows, width]));

/** A [rows, width] table (embeddings) looked up by int64 ids. */
export function embedding(b: Builder, name: string, ids: string, rows: number, width: number): string {
  return b.g.gather(table(b, `${name}.weight`, rows, width), ids);
}

const tanhGelu = (g: Graph, x: string, inner: string): string =>
  g.mul(g.mul(x, g.f32([0.5])), g.add(g.f32([1]), g.op('Tanh', [inner])));

/** transformers' ACT2FN by name. */
export function activation(g: Graph, x: string, name: string): string {
  switch (name) {
    case 'gelu':
    case 'gelu_python':
      // 0.5·x·(1 + erf(x/√2)): the pattern ORT fuses into Gelu.
      return g.mul(g.mul(x, g.f32([0.5])), g.add(g.f32([1]), g.op('Erf', [g.div(x, g.f32([Math.SQRT2]))])));
    case 'gelu_new':
    case 'gelu_pytorch_tanh': {
      const cube = g.mul(g.mul(x, x), x);
      return tanhGelu(g, x, g.mul(g.add(x, g.mul(cube, g.f32([0.044715]))), g.f32([Math.sqrt(2 / Math.PI)])));
    }
    case 'gelu_fast':
      return tanhGelu(
        g,
        x,
        g.mul(g.mul(x, g.f32([0.7978845608])), g.add(g.f32([1]), g.mul(g.mul(x, x), g.f32([0.044715])))),
      );
    case 'quick_gelu':
      return g.mul(x, g.op('Sigmoid', [g.mul(x, g.f32([1.702]))]));
    case 'relu':
      return g.op('Relu', [x]);
    case 'silu':
    case 'swish':
      return g.mul(x, g.op('Sigmoid', [x]));
    case 'tanh':
      return g.op('Tanh', [x]);
    default:
      throw new ServeError(
        'unsupported_architecture',
        `activation "${name}" is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, ` +
          'quick_gelu, relu, silu, tanh)',
        { activation: name },
      );
  }
}

/** attention_mask [b, s] (int64, 1 = attend) as ONNX Runtime's Attention takes it (int32). */
export function attentionMask(g: Graph, mask: string): string {
  return g.op('Cast', [mask], { to: { i: DType.int32 } });
}

/** 0, 1, ..., s-1 for the sequence axis of ids [b, s] -> [s]. */
export function arange(g: Graph, ids: string): string {
  return g.op('Range', [g.i64([0], []), g.squeeze(g.dimOf(ids, 1), [0]), g.i64([1], [])]);
}

/** RoBERTa's position ids: padding_idx + 1, 2, ... over real tokens, padding_idx over pads. */
export function paddedPositions(g: Graph, ids: string, paddingIdx: number): string {
  const real = g.op('Cast', [g.op('Not', [g.op('Equal', [ids, g.i64([paddingIdx], [])])])], {
    to: { i: DType.int64 },
  });
  const counts = g.op('CumSum', [real, g.i64([1], [])]);
  return g.add(g.mul(counts, real), g.i64([paddingIdx], []));
}

/** The first token's vector: x [b, s, h] -> [b, h]. */
export const firstToken = (g: Graph, x: string): string => g.squeeze(g.slice(x, 1, 0, 1), [1]);

export interface AttentionNames {
  query: string;
  key: string;
  value: string;
  output: string;
}

export interface AttentionShape {
  hidden: number;
  heads: number;
}

/** Row-major [rows, width_i] matrices side by side -> [rows, Σ width_i]. */
function sideBySide(parts: readonly Float32Array[], rows: number): Float32Array {
  const widths = parts.map((p) => p.length / rows);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let at = r * total;
    for (const [i, part] of parts.entries()) {
      const width = widths[i] as number;
      out.set(part.subarray(r * width, (r + 1) * width), at);
      at += width;
    }
  }
  return out;
}

/**
 * softmax(q kᵀ / √d [+ bias] + mask) v over `heads` heads (before the output projection), as ONNX
 * Runtime's fused Attention kernel (com.microsoft) runs it: q, k and v packed into one [hidden,
 * 3 hidden] weight (one GEMM), masked positions never attended. `bias` is added to the scores of
 * every head ([1 or b, heads, s, s]), as MPNet's relative position bias is.
 */
function selfAttention(
  b: Builder,
  x: string,
  mask: string,
  names: AttentionNames,
  { hidden, heads }: AttentionShape,
  bias?: string,
): string {
  const { g, w } = b;
  if (hidden % heads !== 0) {
    throw new ServeError(
      'bad_checkpoint',
      `hidden size ${hidden} is not a multiple of ${heads} attention heads`,
      {
        hidden,
        heads,
      },
    );
  }
  const projections = [names.query, names.key, names.value];
  const weights = projections.map((name) => w.transposed(`${name}.weight`, hidden, hidden));
  const biases = projections.map((name) => w.tensor(`${name}.bias`, [hidden]));
  const packedWeight = g.weight(`${names.query}.qkv.weight`, DType.float, [hidden, 3 * hidden], () =>
    sideBySide(
      weights.map((read) => read()),
      hidden,
    ),
  );
  const packedBias = g.weight(`${names.query}.qkv.bias`, DType.float, [3 * hidden], () =>
    sideBySide(
      biases.map((read) => read()),
      1,
    ),
  );
  const inputs = [x, packedWeight, packedBias, mask, ...(bias ? ['', bias] : [])];
  return g.msOp('Attention', inputs, { num_heads: { i: heads } });
}

export interface BlockNames {
  attention: AttentionNames;
  attentionNorm: string;
  intermediate: string;
  output: string;
  outputNorm: string;
}

export interface BlockShape extends AttentionShape {
  intermediate: number;
  activation: string;
  eps: number;
}

/** The post-LayerNorm transformer block of BERT and its descendants. */
export function postNormBlock(
  b: Builder,
  x: string,
  mask: string,
  names: BlockNames,
  shape: BlockShape,
  bias?: string,
): string {
  const { hidden, intermediate, eps } = shape;
  const context = selfAttention(b, x, mask, names.attention, shape, bias);
  const h = residualLayerNorm(
    b,
    names.attention.output,
    names.attentionNorm,
    context,
    x,
    hidden,
    hidden,
    eps,
  );
  const inner = activation(b.g, linear(b, names.intermediate, h, hidden, intermediate), shape.activation);
  return residualLayerNorm(b, names.output, names.outputNorm, inner, h, intermediate, hidden, eps);
}

// Decoder layers: causal self-attention over a KV cache, as Optimum's with-past exports run it.

/** y = x W + b for a GPT-2 Conv1D called `name` (`name.weight` stored [in, out]: no transpose). */
export function conv1d(b: Builder, name: string, x: string, inDim: number, outDim: number): string {
  const weight = b.g.weight(
    `${name}.weight`,
    DType.float,
    [inDim, outDim],
    b.w.tensor(`${name}.weight`, [inDim, outDim]),
  );
  return b.g.add(b.g.matmul(x, weight), biasOf(b, name, outDim));
}

/** float32's lowest value: what transformers adds to the scores of positions not attended. */
const MASKED = -3.4028234663852886e38;

/**
 * The additive attention bias [b, 1, s, past + s] of a decoder step: 0 where query i (at absolute
 * position past + i) may attend key j (j <= past + i, within `window` tokens when there is a sliding
 * window, and attention_mask[b, j] = 1), float32's lowest elsewhere. Built once per graph from the
 * new tokens `ids` [b, s] and `mask` [b, past + s].
 */
export function causalBias(g: Graph, ids: string, mask: string, window?: number): string {
  const total = g.squeeze(g.dimOf(mask, 1), [0]);
  const past = g.sub(total, g.squeeze(g.dimOf(ids, 1), [0]));
  const queries = g.op('Range', [past, total, g.i64([1], [])]);
  const keys = g.op('Range', [g.i64([0], []), total, g.i64([1], [])]);
  let causal = g.op('LessOrEqual', [g.unsqueeze(keys, [0]), g.unsqueeze(queries, [1])]);
  if (window !== undefined) {
    const recent = g.op('Greater', [
      g.unsqueeze(keys, [0]),
      g.unsqueeze(g.sub(queries, g.i64([window], [])), [1]),
    ]);
    causal = g.op('And', [causal, recent]);
  }
  const attended = g.op('Equal', [mask, g.i64([1], [])]);
  const allowed = g.op('And', [g.unsqueeze(causal, [0, 1]), g.unsqueeze(attended, [1, 2])]);
  return g.op('Where', [allowed, g.f32([0], []), g.f32([MASKED], [])]);
}

/** Attention heads of a decoder: `kvHeads` < `heads` is grouped-query attention. */
export interface AttentionHeads {
  heads: number;
  kvHeads: number;
  headDim: number;
}

/** x [b, s, n · headDim] -> [b, n, s, headDim]. */
export const toHeads = (g: Graph, x: string, n: number, headDim: number): string =>
  g.transpose(g.reshape(x, [0, 0, n, headDim]), [0, 2, 1, 3]);

/**
 * softmax(q kᵀ · scale + bias) v for query [b, heads, s, d] and key, value [b, kvHeads, t, d]: the
 * context [b, s, heads · d] (before the output projection). With grouped-query attention each
 * key-value head serves heads / kvHeads query heads, as transformers' repeat_kv does (head h reads
 * key-value head h / rep): the query heads are folded onto their key-value head instead of the keys
 * being copied. `scale` defaults to 1/√d (T5 uses 1).
 */
export function scaledAttention(
  g: Graph,
  query: string,
  key: string,
  value: string,
  bias: string,
  { heads, kvHeads, headDim }: AttentionHeads,
  scale = 1 / Math.sqrt(headDim),
): string {
  const rep = heads / kvHeads;
  // [b, heads, s, d] -> [b, kvHeads, rep · s, d]: row r · s + i is query head kv · rep + r at token i.
  const folded = rep === 1 ? query : g.reshape(query, [0, kvHeads, -1, headDim]);
  const masked = rep === 1 ? bias : g.op('Tile', [bias, g.i64([1, 1, rep, 1])]);
  const products = g.matmul(folded, g.transpose(key, [0, 1, 3, 2]));
  const scores = scale === 1 ? products : g.mul(products, g.f32([scale], []));
  const attended = g.matmul(g.softmax(g.add(scores, masked)), value);
  const unfolded = rep === 1 ? attended : g.reshape(attended, [0, heads, -1, headDim]);
  return g.reshape(g.transpose(unfolded, [0, 2, 1, 3]), [0, 0, heads * headDim]);
}

/**
 * Attention over the cache `past` plus this step's keys and values: q [b, s, heads · d], k and v
 * [b, s, kvHeads · d] as projected, `rotate` (rotary embeddings) applied to q and k in the heads
 * layout before k is cached. Returns the context [b, s, heads · d] and the present key and value
 * [b, kvHeads, past + s, d].
 */
export function cachedAttention(
  g: Graph,
  projected: { q: string; k: string; v: string },
  past: { key: string; value: string },
  bias: string,
  shape: AttentionHeads,
  rotate: (x: string) => string = (x) => x,
  scale?: number,
): { context: string; key: string; value: string } {
  const { heads, kvHeads, headDim } = shape;
  const key = g.concat([past.key, rotate(toHeads(g, projected.k, kvHeads, headDim))], 2);
  const value = g.concat([past.value, toHeads(g, projected.v, kvHeads, headDim)], 2);
  const query = rotate(toHeads(g, projected.q, heads, headDim));
  return { context: scaledAttention(g, query, key, value, bias, shape, scale), key, value };
}

/**
 * Cross-attention keys and values [b, heads, t, d] of a merged seq2seq decoder: the cache's once it
 * holds them, else projected from the encoder's hidden states [b, t, hidden]. Both are one graph
 * without an If: the rows projected are those past the cache's length, all of them on the first
 * step and none after it, so later steps project nothing.
 */
export function crossKeyValue(
  g: Graph,
  encoderHidden: string,
  past: { key: string; value: string },
  project: (rows: string) => { k: string; v: string },
  { heads, headDim }: AttentionHeads,
): { key: string; value: string } {
  const fresh = project(g.slice(encoderHidden, 1, g.dimOf(past.key, 2), Number.MAX_SAFE_INTEGER));
  return {
    key: g.concat([past.key, toHeads(g, fresh.k, heads, headDim)], 2),
    value: g.concat([past.value, toHeads(g, fresh.v, heads, headDim)], 2),
  };
}

/** The additive bias [b, 1, 1, t] that keeps attention off padding: 0 where mask [b, t] is 1. */
export function paddingBias(g: Graph, mask: string): string {
  const attended = g.unsqueeze(g.op('Equal', [mask, g.i64([1], [])]), [1, 2]);
  return g.op('Where', [attended, g.f32([0], []), g.f32([MASKED], [])]);
}

/** transformers' RMSNorm (Llama, Mistral, Qwen2): w · x / √(mean(x²) + eps), no bias. */
export function rmsNorm(b: Builder, name: string, x: string, dim: number, eps: number): string {
  const { g } = b;
  const meanSquare = g.op('ReduceMean', [g.mul(x, x)], { axes: { ints: [-1] }, keepdims: { i: 1 } });
  const normed = g.div(x, g.op('Sqrt', [g.add(meanSquare, g.f32([eps], []))]));
  const weight = g.weight(`${name}.weight`, DType.float, [dim], b.w.tensor(`${name}.weight`, [dim]));
  return g.mul(weight, normed);
}

/**
 * Rotary position embeddings as transformers applies them (rotate_half: the two halves of each head,
 * not interleaved pairs): cos and sin [b, 1, s, d] from position_ids and the inverse frequencies
 * [d / 2], built once per graph; the returned function rotates x [b, n, s, d].
 */
export function rotary(g: Graph, positions: string, inverseFrequencies: Float32Array): (x: string) => string {
  const half = inverseFrequencies.length;
  const angles = g.mul(g.unsqueeze(g.toFloat(positions), [2]), g.f32(inverseFrequencies, [half]));
  const both = g.concat([angles, angles], -1);
  const cos = g.unsqueeze(g.op('Cos', [both]), [1]);
  const sin = g.unsqueeze(g.op('Sin', [both]), [1]);
  return (x) => {
    const rotated = g.concat([g.op('Neg', [g.slice(x, 3, half, 2 * half)]), g.slice(x, 3, 0, half)], 3);
    return g.add(g.mul(x, cos), g.mul(rotated, sin));
  };
}

/**
 * x [b, s, width] · tableᵀ for the [rows, width] initializer `table` (the input embeddings, for a tied
 * LM head): logits [b, s, rows], one copy of the table for both uses.
 */
export function projectOntoRows(g: Graph, x: string, table: string, rows: number, width: number): string {
  const flat = g.op('Gemm', [g.reshape(x, [-1, width]), table], { transB: { i: 1 } });
  const shape = g.concat([g.op('Shape', [x], { end: { i: 2 } }), g.i64([rows])], 0);
  return g.op('Reshape', [flat, shape]);
}
