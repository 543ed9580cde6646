// The layers encoder architectures are built from, as ONNX subgraphs over a checkpoint's weights:
// linear, LayerNorm, activations, multi-head self-attention and the post-LayerNorm transformer block.
// Written in the op patterns ONNX Runtime fuses (Gelu, LayerNormalization, MatMul + Add).
import { ServeError } from '../errors.ts';
import { DType, type Graph } from './onnx/graph.ts';
import type { Weights } from './weights.ts';

export interface Builder {
  g: Graph;
  w: Weights;
}

/** The sequence axes every input and per-token output has. */
export const SEQ_DIMS = ['batch_size', 'sequence_length'] as const;

/** Added to the scores of masked positions: the float32 minimum, as transformers does. */
const MASKED = -3.4028234663852886e38;

/** y = x Wᵀ + b for a torch Linear called `name` (`name.weight` [out, in], `name.bias` [out]). */
export function linear(b: Builder, name: string, x: string, inDim: number, outDim: number): string {
  const { g, w } = b;
  const weight = g.weight(
    `${name}.weight`,
    DType.float,
    [inDim, outDim],
    w.transposed(`${name}.weight`, outDim, inDim),
  );
  return g.add(
    g.matmul(x, weight),
    g.weight(`${name}.bias`, DType.float, [outDim], w.tensor(`${name}.bias`, [outDim])),
  );
}

export function layerNorm(b: Builder, name: string, x: string, dim: number, eps: number): string {
  const { g, w } = b;
  return g.op(
    'LayerNormalization',
    [
      x,
      g.weight(`${name}.weight`, DType.float, [dim], w.tensor(`${name}.weight`, [dim])),
      g.weight(`${name}.bias`, DType.float, [dim], w.tensor(`${name}.bias`, [dim])),
    ],
    { axis: { i: -1 }, epsilon: { f: eps } },
  );
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

/** attention_mask [b, s] (int64, 1 = attend) -> additive scores bias [b, 1, 1, s]. */
export function additiveMask(g: Graph, mask: string): string {
  return g.unsqueeze(g.mul(g.sub(g.f32([1]), g.toFloat(mask)), g.f32([MASKED])), [1, 2]);
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

/**
 * softmax(q kᵀ / √d + mask [+ bias]) v over `heads` heads, then the output projection. `bias` is added
 * to the scores of every head ([1 or b, heads, s, s]), as MPNet's relative position bias is.
 */
export function selfAttention(
  b: Builder,
  x: string,
  maskBias: string,
  names: AttentionNames,
  { hidden, heads }: AttentionShape,
  bias?: string,
): string {
  const { g } = b;
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
  const headDim = hidden / heads;
  const split = (t: string, perm: readonly number[]): string =>
    g.transpose(g.reshape(t, [0, 0, heads, headDim]), perm);
  const q = split(linear(b, names.query, x, hidden, hidden), [0, 2, 1, 3]);
  const k = split(linear(b, names.key, x, hidden, hidden), [0, 2, 3, 1]);
  const v = split(linear(b, names.value, x, hidden, hidden), [0, 2, 1, 3]);
  let scores = g.div(g.matmul(q, k), g.f32([Math.sqrt(headDim)]));
  if (bias) scores = g.add(scores, bias);
  scores = g.add(scores, maskBias);
  const context = g.reshape(g.transpose(g.matmul(g.softmax(scores), v), [0, 2, 1, 3]), [0, 0, hidden]);
  return linear(b, names.output, context, hidden, hidden);
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
  maskBias: string,
  names: BlockNames,
  shape: BlockShape,
  bias?: string,
): string {
  const { g } = b;
  const attended = selfAttention(b, x, maskBias, names.attention, shape, bias);
  const h = layerNorm(b, names.attentionNorm, g.add(attended, x), shape.hidden, shape.eps);
  const inner = activation(
    g,
    linear(b, names.intermediate, h, shape.hidden, shape.intermediate),
    shape.activation,
  );
  const out = linear(b, names.output, inner, shape.intermediate, shape.hidden);
  return layerNorm(b, names.outputNorm, g.add(out, h), shape.hidden, shape.eps);
}
