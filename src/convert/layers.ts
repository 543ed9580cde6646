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

/** A [rows, width] table (embeddings) looked up by int64 ids. */
export function embedding(b: Builder, name: string, ids: string, rows: number, width: number): string {
  const table = b.g.weight(
    `${name}.weight`,
    DType.float,
    [rows, width],
    b.w.tensor(`${name}.weight`, [rows, width]),
  );
  return b.g.gather(table, ids);
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
 * position past + i) may attend key j (j <= past + i, and attention_mask[b, j] = 1), float32's lowest
 * elsewhere. Built once per graph from the new tokens `ids` [b, s] and `mask` [b, past + s].
 */
export function causalBias(g: Graph, ids: string, mask: string): string {
  const total = g.squeeze(g.dimOf(mask, 1), [0]);
  const past = g.sub(total, g.squeeze(g.dimOf(ids, 1), [0]));
  const queries = g.op('Range', [past, total, g.i64([1], [])]);
  const keys = g.op('Range', [g.i64([0], []), total, g.i64([1], [])]);
  const causal = g.op('LessOrEqual', [g.unsqueeze(keys, [0]), g.unsqueeze(queries, [1])]);
  const attended = g.op('Equal', [mask, g.i64([1], [])]);
  const allowed = g.op('And', [g.unsqueeze(causal, [0, 1]), g.unsqueeze(attended, [1, 2])]);
  return g.op('Where', [allowed, g.f32([0], []), g.f32([MASKED], [])]);
}

export interface CacheShape {
  hidden: number;
  heads: number;
  headDim: number;
}

/** x [b, s, heads · headDim] -> [b, heads, s, headDim]. */
const toHeads = (g: Graph, x: string, { heads, headDim }: CacheShape): string =>
  g.transpose(g.reshape(x, [0, 0, heads, headDim]), [0, 2, 1, 3]);

/**
 * softmax(q kᵀ / √d + bias) v with k and v the cache `past` plus this step's: q, k, v [b, s, hidden]
 * as projected; returns the context [b, s, hidden] (before the output projection) and the present
 * key and value [b, heads, past + s, headDim], which the next step gets as its past.
 */
export function cachedAttention(
  g: Graph,
  projected: { q: string; k: string; v: string },
  past: { key: string; value: string },
  bias: string,
  shape: CacheShape,
): { context: string; key: string; value: string } {
  const key = g.concat([past.key, toHeads(g, projected.k, shape)], 2);
  const value = g.concat([past.value, toHeads(g, projected.v, shape)], 2);
  const scores = g.div(
    g.matmul(toHeads(g, projected.q, shape), g.transpose(key, [0, 1, 3, 2])),
    g.f32([Math.sqrt(shape.headDim)], []),
  );
  const probs = g.softmax(g.add(scores, bias));
  const context = g.reshape(g.transpose(g.matmul(probs, value), [0, 2, 1, 3]), [0, 0, shape.hidden]);
  return { context, key, value };
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
