// The quantized weight layouts as ONNX Runtime reads them: weights that int8 per column (q8) and int4
// per block of 32 (q4) represent exactly give, through DynamicQuantizeMatMul and MatMulNBits, the
// product float64 arithmetic gives, up to the rounding of the activations both quantize at run time
// (a bound of |w| / 255 per term). A wrong nibble order, block layout, zero point or scale moves the
// product by the size of the product itself.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { DType, Graph } from '../../src/convert/onnx/graph.ts';

const scratch = mkdtempSync(join(tmpdir(), 'hubserve-quantize-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const K = 96; // three blocks of 32
const N = 40;
const M = 3;

/** A seeded generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * [rows, cols] values that are integers in [-levels, levels] times one scale per group of `group`
 * consecutive values along each column (a row-major [K, N] weight's blocks run down its columns),
 * each group holding ±levels once: what the quantizer maps to its integers without loss.
 */
function representable(levels: number, group: number, seed: number): Float32Array {
  const next = random(seed);
  const w = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let start = 0; start < K; start += group) {
      const scale = 0.01 + next() * 0.2;
      for (let k = start; k < start + group; k++) {
        const q = k === start ? (next() < 0.5 ? -levels : levels) : Math.round((next() * 2 - 1) * levels);
        w[k * N + n] = q * scale;
      }
    }
  }
  return w;
}

async function product(graph: Graph, x: Float32Array): Promise<Float32Array> {
  const path = join(scratch, `${graph.constructor.name}-${Math.random()}.onnx`);
  graph.writeFile(path);
  const session = await InferenceSession.create(path);
  try {
    const out = await session.run({ x: new Tensor('float32', x, [M, K]) });
    return out['y']?.data as Float32Array;
  } finally {
    await session.release();
  }
}

function exact(x: Float32Array, w: Float32Array, transposed: boolean): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = 0;
      for (let k = 0; k < K; k++)
        sum += (x[m * K + k] as number) * (w[transposed ? n * K + k : k * N + n] as number);
      y[m * N + n] = sum;
    }
  }
  return y;
}

function graphOf(w: Float32Array, transposed: boolean): Graph {
  const g = new Graph('quantize-test');
  const x = g.input('x', DType.float, [M, K]);
  const y = transposed
    ? g.op('Gemm', [x, g.weight('w', DType.float, [N, K], w)], { transB: { i: 1 } })
    : g.matmul(x, g.weight('w', DType.float, [K, N], w));
  g.output('y', y, DType.float, [M, N]);
  return g;
}

const maxError = (a: Float32Array, b: Float64Array): number =>
  Math.max(...Array.from(a, (v, i) => Math.abs(v - (b[i] as number))));

/** [K, N] representable weights as the [N, K] table of a Gemm(transB). */
function transposedCopy(w: Float32Array): Float32Array {
  const t = new Float32Array(w.length);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) t[n * K + k] = w[k * N + n] as number;
  return t;
}

/** The largest Σ_k |w[k, n]| / steps over the columns: how far activation rounding can move y. */
function activationBound(w: Float32Array, steps: number): number {
  let bound = 0;
  for (let n = 0; n < N; n++) {
    let column = 0;
    for (let k = 0; k < K; k++) column += Math.abs(w[k * N + n] as number);
    bound = Math.max(bound, column / steps);
  }
  return bound;
}

const next = random(7);
const x = Float32Array.from({ length: M * K }, () => next() * 2 - 1);

it('q4: MatMul and Gemm(transB) weights that int4 blocks of 32 represent give the product, up to the activations rounding', async () => {
  const w = representable(7, 32, 1);
  for (const transposed of [false, true]) {
    const weight = transposed ? transposedCopy(w) : w;
    const g = graphOf(weight, transposed);
    assert.equal(g.quantizeMatMulWeightsToInt4(32, 1), 1, 'one node replaced');
    const error = maxError(await product(g, x), exact(x, weight, transposed));
    // The blocks run in int8 (accuracy_level 4): x in [-1, 1] quantized per block to 8 bits is off by
    // at most 1/254 of |x|'s block maximum, so each term by |w| / 254.
    const bound = activationBound(w, 254);
    assert.ok(error <= bound, `${transposed ? 'Gemm' : 'MatMul'}: max error ${error}, bound ${bound}`);
  }
});

it('q8: MatMul and Gemm(transB) weights that int8 columns represent give the product, up to the activations rounding', async () => {
  const w = representable(127, K, 2);
  // x in [-1, 1] quantized to uint8 has steps of 2/255: each term is off by at most |w| / 255.
  const bound = activationBound(w, 255);
  for (const transposed of [false, true]) {
    const weight = transposed ? transposedCopy(w) : w;
    const g = graphOf(weight, transposed);
    assert.equal(g.quantizeMatMulWeights(1), 1, 'one node replaced');
    const error = maxError(await product(g, x), exact(x, weight, transposed));
    assert.ok(error <= bound, `${transposed ? 'Gemm' : 'MatMul'}: max error ${error}, bound ${bound}`);
  }
});
