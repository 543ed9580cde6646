// Attention that looks a position up: a query for position t scores key position j as -λ(j - t)², so
// softmax puts (almost) all weight on j = t. The generative test models use it to read the previous
// token from the KV cache (GPT-2 style) or the t-th source word from the encoder (T5 style).
import type { Graph } from '../../src/convert/onnx/graph.ts';

/** Sharpness: the next-nearest position gets e^-20 of the weight. */
const LAMBDA = 20;

/** Key features [j, j², 1] for positions p [..., n] (float) -> [..., n, 3]. */
export function positionKeys(g: Graph, p: string): string {
  const j = g.unsqueeze(p, [-1]);
  return g.concat([j, g.mul(j, j), g.add(g.mul(j, g.f32([0])), g.f32([1]))], -1);
}

/** Query features [2λt, -λ, -λt²] for target positions t [..., n] -> [..., n, 3]. */
export function positionQuery(g: Graph, t: string): string {
  const q = g.unsqueeze(t, [-1]);
  return g.concat(
    [
      g.mul(q, g.f32([2 * LAMBDA])),
      g.add(g.mul(q, g.f32([0])), g.f32([-LAMBDA])),
      g.mul(g.mul(q, q), g.f32([-LAMBDA])),
    ],
    -1,
  );
}

/**
 * softmax(query · keysᵀ + maskBias) · values with one head.
 * query [b,1,s,3], keys [b,1,T,3], values [b,1,T,V], mask [b,T] (1 = attend) -> [b,s,V].
 */
export function attend(g: Graph, query: string, keys: string, values: string, mask: string): string {
  const scores = g.matmul(query, g.transpose(keys, [0, 1, 3, 2]));
  const bias = g.unsqueeze(g.mul(g.sub(g.toFloat(mask), g.f32([1])), g.f32([1e9])), [1, 2]);
  return g.squeeze(g.matmul(g.softmax(g.add(scores, bias)), values), [1]);
}
