// A small ONNX graph builder: enough to write real models (encoders, attention, KV caches) from
// TypeScript. Values are named strings; every op returns the name of its (first) output. Weights may
// be given lazily, so that a converted model is written one tensor at a time.
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import protobuf from 'protobufjs';
import { toFloat16 } from './float16.ts';
import { type Int4Weight, quantizeInt4 } from './int4.ts';
import { transpose } from './matrix.ts';
import { ONNX_PROTO } from './proto.ts';

const ModelProto = protobuf.parse(ONNX_PROTO).root.lookupType('onnx.ModelProto');

/** ONNX TensorProto.DataType values used here. */
export const DType = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10 } as const;
export type DType = (typeof DType)[keyof typeof DType];

/** Microsoft's contrib operators (ONNX Runtime's fused kernels). */
export const MS_DOMAIN = 'com.microsoft';

/** protobuf's limit on one message: larger weights go to an external data file. */
const MAX_INLINE_BYTES = 2 ** 31 - 2 ** 26;

/** A dimension: a fixed size, or a symbolic name such as `batch_size`. */
export type Dim = number | string;

/** A graph of a converted model: its file name without the dtype suffix (model, encoder_model, ...), its inputs and outputs. */
export interface GraphPart {
  name: string;
  graph: Graph;
  inputs: string[];
  outputs: string[];
}

export type TensorData = Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | Uint16Array;

/** A weight's values, or a function that reads them when the model is written. */
export type WeightData = TensorData | (() => TensorData);

export type Attr =
  | { i: number }
  | { f: number }
  | { s: string }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { t: { dtype: DType; dims: readonly number[]; data: TensorData } };

const ATTR_TYPE = { f: 1, i: 2, s: 3, t: 4, floats: 6, ints: 7 } as const;

interface TensorMessage {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  externalData?: { key: string; value: string }[];
  dataLocation?: number;
}

interface Initializer {
  name: string;
  dtype: DType;
  dims: readonly number[];
  data: WeightData;
}

const elementCount = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function tensorMessage(name: string, dtype: DType, dims: readonly number[], data: TensorData): TensorMessage {
  const expected = elementCount(dims);
  if (data.length !== expected) {
    throw new Error(`tensor ${name}: ${data.length} values for dims [${dims.join(', ')}]`);
  }
  // raw_data is little-endian, which is what typed arrays are on every platform Node supports.
  return {
    name,
    dims: [...dims],
    dataType: dtype,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function attribute(name: string, attr: Attr): Record<string, unknown> {
  const [key, value] = Object.entries(attr)[0] as [keyof typeof ATTR_TYPE, unknown];
  if (key === 't') {
    const t = value as { dtype: DType; dims: readonly number[]; data: TensorData };
    return { name, type: ATTR_TYPE.t, t: tensorMessage('', t.dtype, t.dims, t.data) };
  }
  if (key === 's') return { name, type: ATTR_TYPE.s, s: Buffer.from(value as string) };
  return { name, type: ATTR_TYPE[key], [key]: value };
}

function valueInfo(name: string, dtype: DType, dims: readonly Dim[]): Record<string, unknown> {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: dtype, shape: { dim } } } };
}

export interface WriteOptions {
  opset?: number;
  producer?: string;
  docString?: string;
  /** Model metadata (metadata_props): what made the file, from what. */
  metadata?: Record<string, string>;
  /** Called after each weight is written, with the weights' bytes written so far and in all. */
  onProgress?: (done: number, total: number) => void;
}

export class Graph {
  private readonly nodes: Record<string, unknown>[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly domains = new Set<string>();
  private readonly inputs: Record<string, unknown>[] = [];
  private readonly outputs: Record<string, unknown>[] = [];
  private counter = 0;

  constructor(private readonly name: string) {}

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, dtype: DType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  /** Exposes `value` as a graph output called `name`. */
  output(name: string, value: string, dtype: DType, dims: readonly Dim[]): void {
    if (value !== name) this.op('Identity', [value], {}, name);
    this.outputs.push(valueInfo(name, dtype, dims));
  }

  /** A named weight; `data` may be a function, called once when the model is written. */
  weight(name: string, dtype: DType, dims: readonly number[], data: WeightData): string {
    if (typeof data !== 'function') tensorMessage(name, dtype, dims, data); // fail at the call site
    this.initializers.push({ name, dtype, dims, data });
    return name;
  }

  /** An anonymous float constant (scalar when dims is empty). */
  f32(values: readonly number[] | Float32Array, dims: readonly number[] = []): string {
    return this.weight(this.fresh('const'), DType.float, dims, Float32Array.from(values));
  }

  /** An anonymous int64 constant (axes, shapes, indices). */
  i64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.weight(this.fresh('const'), DType.int64, dims, BigInt64Array.from(values.map(BigInt)));
  }

  op(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, output?: string): string {
    const [out] = this.node(opType, inputs, attrs, [output ?? this.fresh(opType.toLowerCase())]);
    return out as string;
  }

  /**
   * A node with several outputs (or of another domain, such as ONNX Runtime's contrib ops); returns the
   * output names. An empty input name is an optional input left out.
   */
  node(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, Attr>,
    outputs: readonly string[],
    domain = '',
  ): string[] {
    if (domain) this.domains.add(domain);
    this.nodes.push({
      opType,
      domain,
      name: this.fresh(`node_${opType}`),
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return [...outputs];
  }

  /** A contrib op of ONNX Runtime with one output. */
  msOp = (opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}): string =>
    this.node(opType, inputs, attrs, [this.fresh(opType.toLowerCase())], MS_DOMAIN)[0] as string;

  // Shorthands for the ops every model here uses; anything else goes through op().
  add = (a: string, b: string): string => this.op('Add', [a, b]);
  sub = (a: string, b: string): string => this.op('Sub', [a, b]);
  mul = (a: string, b: string): string => this.op('Mul', [a, b]);
  div = (a: string, b: string): string => this.op('Div', [a, b]);
  matmul = (a: string, b: string): string => this.op('MatMul', [a, b]);
  gather = (table: string, indices: string, axis = 0): string =>
    this.op('Gather', [table, indices], { axis: { i: axis } });
  toFloat = (x: string): string => this.op('Cast', [x], { to: { i: DType.float } });
  unsqueeze = (x: string, axes: readonly number[]): string => this.op('Unsqueeze', [x, this.i64(axes)]);
  squeeze = (x: string, axes: readonly number[]): string => this.op('Squeeze', [x, this.i64(axes)]);
  concat = (xs: readonly string[], axis: number): string => this.op('Concat', xs, { axis: { i: axis } });
  reduceSum = (x: string, axes: readonly number[], keepdims = false): string =>
    this.op('ReduceSum', [x, this.i64(axes)], { keepdims: { i: keepdims ? 1 : 0 } });
  softmax = (x: string, axis = -1): string => this.op('Softmax', [x], { axis: { i: axis } });
  transpose = (x: string, perm: readonly number[]): string =>
    this.op('Transpose', [x], { perm: { ints: perm } });
  reshape = (x: string, shape: readonly number[]): string => this.op('Reshape', [x, this.i64(shape)]);
  /** x[..., start:end, ...] along one axis (end may be a huge number for "to the end"). */
  slice = (x: string, axis: number, start: number | string, end: number): string =>
    this.op('Slice', [
      x,
      typeof start === 'string' ? start : this.i64([start]),
      this.i64([end]),
      this.i64([axis]),
    ]);
  /** One-hot float vectors of `depth` for int64 indices [...] -> [..., depth]; no table needed. */
  oneHot = (indices: string, depth: number): string =>
    this.op('OneHot', [indices, this.i64([depth], []), this.f32([0, 1], [2])], { axis: { i: -1 } });
  /** Size of dimension `axis` of x, as an int64 tensor of shape [1]. */
  dimOf = (x: string, axis: number): string =>
    this.op('Shape', [x], { start: { i: axis }, end: { i: axis + 1 } });

  /**
   * Stores every float weight (not the scalar constants) as float16, cast back to float32 where it is
   * used: half the file, the same graph and float32 arithmetic.
   */
  storeWeightsAsFloat16(): void {
    const casts: Record<string, unknown>[] = [];
    for (const w of this.initializers) {
      if (w.dtype !== DType.float || elementCount(w.dims) < 2) continue;
      const name = w.name;
      const data = w.data;
      Object.assign(w, {
        name: `${name}_fp16`,
        dtype: DType.float16,
        data: () => toFloat16(resolve(data) as Float32Array),
      });
      casts.push({
        opType: 'Cast',
        domain: '',
        name: this.fresh('node_Cast'),
        input: [w.name],
        output: [name],
        attribute: [attribute('to', { i: DType.float })],
      });
    }
    this.nodes.unshift(...casts);
  }

  /**
   * Dynamic int8 quantization of the MatMuls (and fused Attentions) whose weight is a float [k, n] of
   * at least `minElements`: the weight stored as int8 with one scale per output column (symmetric,
   * as ONNX Runtime's quantize_dynamic does per channel), the activations quantized at run time.
   * MatMul becomes DynamicQuantizeMatMul, and so does a Gemm(transB) without bias over an [n, k]
   * table (a tied LM head: the int8 copy is transposed, the float table stays for the embedding
   * lookup); Attention becomes DynamicQuantizeLinear + QAttention, except with an attention bias,
   * which QAttention does not take. Returns the nodes replaced.
   */
  quantizeMatMulWeights(minElements = 1024): number {
    const byName = new Map(this.initializers.map((w) => [w.name, w]));
    const quantized = new Map<string, [string, string]>();
    const quantize = (weight: Initializer, rows: boolean): [string, string] => {
      let names = quantized.get(weight.name);
      if (!names) {
        names = this.quantizedWeight(weight, rows);
        quantized.set(weight.name, names);
      }
      return names;
    };
    let replaced = 0;
    for (const [at, node] of [...this.nodes.entries()].reverse()) {
      const inputs = node['input'] as string[];
      const opType = node['opType'];
      const attention = opType === 'Attention' && node['domain'] === MS_DOMAIN && inputs.length <= 4;
      const rows = isTransposedGemm(node);
      if (opType !== 'MatMul' && !attention && !rows) continue;
      const weight = byName.get(inputs[1] ?? '');
      if (!weight || weight.dtype !== DType.float || weight.dims.length !== 2) continue;
      if (elementCount(weight.dims) < minElements) continue;
      const [values, scales] = quantize(weight, rows);
      if (opType !== 'Attention') {
        Object.assign(node, {
          opType: 'DynamicQuantizeMatMul',
          domain: MS_DOMAIN,
          input: [inputs[0], values, scales],
          attribute: [],
        });
      } else {
        const [x, , bias, mask] = inputs as [string, string, string, string?];
        const q = [`${x}_uint8`, `${x}_scale`, `${x}_zero_point`].map((name) => this.fresh(name));
        const dynamic = {
          opType: 'DynamicQuantizeLinear',
          domain: '',
          name: this.fresh('node_DynamicQuantizeLinear'),
          input: [x],
          output: q,
          attribute: [],
        };
        const [xq, xScale, xZero] = q as [string, string, string];
        Object.assign(node, {
          opType: 'QAttention',
          input: [xq, values, bias, xScale, scales, mask ?? '', xZero],
        });
        this.nodes.splice(at, 0, dynamic);
      }
      this.domains.add(MS_DOMAIN);
      replaced++;
    }
    this.dropUnused(new Set(quantized.keys()));
    return replaced;
  }

  /**
   * Block-wise 4-bit weights (the `_q4` exports' MatMulNBits, ./int4.ts): the float [k, n] weight of
   * each MatMul of at least `minElements`, and the [n, k] table of a Gemm(transB) without bias (the LM
   * head tied to the embeddings, whose float table the embedding lookup keeps); a decoding step
   * reads an eighth of the bytes. Returns the nodes replaced.
   */
  quantizeMatMulWeightsToInt4(blockSize = 32, minElements = 1024): number {
    const byName = new Map(this.initializers.map((w) => [w.name, w]));
    const quantized = new Map<string, string[]>();
    const replacedWeights = new Set<string>();
    let replaced = 0;
    for (const node of this.nodes) {
      const inputs = node['input'] as string[];
      const transposed = isTransposedGemm(node);
      if (node['opType'] !== 'MatMul' && !transposed) continue;
      const weight = byName.get(inputs[1] ?? '');
      if (!weight || weight.dtype !== DType.float || weight.dims.length !== 2) continue;
      if (elementCount(weight.dims) < minElements) continue;
      const [n, k] = transposed
        ? (weight.dims as [number, number])
        : ([weight.dims[1], weight.dims[0]] as [number, number]);
      const key = `${weight.name}:${transposed ? 'rows' : 'columns'}`;
      let names = quantized.get(key);
      if (!names) {
        names = this.int4Weight(weight, n, k, blockSize, transposed);
        quantized.set(key, names);
      }
      replacedWeights.add(weight.name);
      Object.assign(node, {
        opType: 'MatMulNBits',
        domain: MS_DOMAIN,
        input: [inputs[0], ...names],
        attribute: [
          attribute('K', { i: k }),
          attribute('N', { i: n }),
          attribute('bits', { i: 4 }),
          attribute('block_size', { i: blockSize }),
          // Blocks multiplied in int8 (activations quantized per block at run time): on this 2-core
          // CPU 52 tokens/s for a 0.5B decoder against 32 unpacking to float (bench:decode).
          attribute('accuracy_level', { i: 4 }),
        ],
      });
      this.domains.add(MS_DOMAIN);
      replaced++;
    }
    this.dropUnused(replacedWeights);
    return replaced;
  }

  /** Drops the float weights among `replaced` that no node reads any more: they are not written. */
  private dropUnused(replaced: ReadonlySet<string>): void {
    const used = new Set(this.nodes.flatMap((n) => n['input'] as string[]));
    const kept = this.initializers.filter((w) => !replaced.has(w.name) || used.has(w.name));
    this.initializers.splice(0, this.initializers.length, ...kept);
  }

  /** The packed values, scales and zero points of a weight, as lazily computed initializers. */
  private int4Weight(weight: Initializer, n: number, k: number, blockSize: number, rows: boolean): string[] {
    let done: Int4Weight | undefined;
    const compute = (): Int4Weight => {
      const values = resolve(weight.data) as Float32Array;
      return quantizeInt4(rows ? values : transpose(values, k, n), n, k, blockSize);
    };
    const blocks = Math.ceil(k / blockSize);
    const base = `${weight.name}${rows ? '' : '.T'}_q4`;
    const at = this.initializers.indexOf(weight);
    this.initializers.splice(
      at + 1,
      0,
      {
        name: base,
        dtype: DType.uint8,
        dims: [n, blocks, blockSize / 2],
        data: () => (done = compute()).packed,
      },
      {
        name: `${base}_scales`,
        dtype: DType.float,
        dims: [n * blocks],
        data: () => (done ?? compute()).scales,
      },
      {
        name: `${base}_zero_points`,
        dtype: DType.uint8,
        dims: [n * Math.ceil(blocks / 2)],
        data: () => {
          const result = (done ?? compute()).zeroPoints;
          done = undefined;
          return result;
        },
      },
    );
    return [base, `${base}_scales`, `${base}_zero_points`];
  }

  /**
   * int8 values and per-column scales of a [k, n] weight (of the [n, k] table `rows`, transposed), as
   * two lazily computed initializers.
   */
  private quantizedWeight(weight: Initializer, rows: boolean): [string, string] {
    const [k, n] = (rows ? [weight.dims[1], weight.dims[0]] : weight.dims) as [number, number];
    let done: { values: Int8Array; scales: Float32Array } | undefined;
    const compute = (): { values: Int8Array; scales: Float32Array } => {
      const values = resolve(weight.data) as Float32Array;
      return quantizeColumns(rows ? transpose(values, n, k) : values, k, n);
    };
    const values = `${weight.name}${rows ? '.T' : ''}_int8`;
    const scales = `${weight.name}${rows ? '.T' : ''}_scale`;
    const at = this.initializers.indexOf(weight);
    // Written one after the other: the scales' read releases what the values' read computed.
    this.initializers.splice(
      at + 1,
      0,
      { name: values, dtype: DType.int8, dims: [k, n], data: () => (done = compute()).values },
      {
        name: scales,
        dtype: DType.float,
        dims: [n],
        data: () => {
          const result = (done ?? compute()).scales;
          done = undefined;
          return result;
        },
      },
    );
    return [values, scales];
  }

  /** Serialized ModelProto (deterministic: same graph, same bytes), for models built in memory. */
  toBytes(opset = 17, docString = ''): Uint8Array {
    const header = this.header({ opset, producer: 'hubserve-testmodels', docString });
    const initializer = this.initializers.map((w) => tensorMessage(w.name, w.dtype, w.dims, resolve(w.data)));
    return ModelProto.encode(
      ModelProto.fromObject({ ...header, graph: { ...header.graph, initializer } }),
    ).finish();
  }

  /**
   * Writes the model to `path` one weight at a time, so that no more than one tensor's values are held
   * (protobuf merges repeated messages: each weight is appended as a ModelProto of its own). When the
   * weights pass protobuf's 2 GB limit, they go to `<file>_data` beside it (ONNX external data).
   * Returns the bytes written.
   */
  /** The bytes of the weights as they will be written. */
  weightBytes(): number {
    return this.initializers.reduce((n, w) => n + elementCount(w.dims) * bytesPer(w.dtype), 0);
  }

  writeFile(path: string, options: WriteOptions = {}): number {
    const total = this.weightBytes();
    const external = total > MAX_INLINE_BYTES;
    const dataPath = `${path}_data`;
    const fd = openSync(path, 'w');
    const dataFd = external ? openSync(dataPath, 'w') : undefined;
    let written = 0;
    let dataOffset = 0;
    let weightsDone = 0;
    const append = (message: Record<string, unknown>): void => {
      const bytes = ModelProto.encode(ModelProto.fromObject(message)).finish();
      written += writeSync(fd, bytes);
    };
    try {
      append(this.header(options));
      for (const w of this.initializers) {
        const tensor = tensorMessage(w.name, w.dtype, w.dims, resolve(w.data));
        if (dataFd !== undefined && tensor.rawData) {
          const length = writeSync(dataFd, tensor.rawData);
          tensor.externalData = [
            { key: 'location', value: basename(dataPath) },
            { key: 'offset', value: String(dataOffset) },
            { key: 'length', value: String(length) },
          ];
          tensor.dataLocation = 1;
          delete tensor.rawData;
          dataOffset += length;
          written += length;
        }
        append({ graph: { initializer: [tensor] } });
        weightsDone += elementCount(w.dims) * bytesPer(w.dtype);
        options.onProgress?.(weightsDone, total);
      }
    } finally {
      closeSync(fd);
      if (dataFd !== undefined) closeSync(dataFd);
    }
    return written;
  }

  private header(options: WriteOptions): { graph: Record<string, unknown> } & Record<string, unknown> {
    return {
      irVersion: 8,
      producerName: options.producer ?? 'hubserve',
      producerVersion: '1',
      docString: options.docString ?? '',
      opsetImport: [
        { domain: '', version: options.opset ?? 17 },
        ...[...this.domains].map((domain) => ({ domain, version: 1 })),
      ],
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: { name: this.name, node: this.nodes, input: this.inputs, output: this.outputs },
    };
  }
}

/** Symmetric int8 per column of a row-major [k, n] matrix: scale = max |column| / 127. */
function quantizeColumns(
  values: Float32Array,
  k: number,
  n: number,
): { values: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(n);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < n; j++)
      scales[j] = Math.max(scales[j] as number, Math.abs(values[i * n + j] as number));
  }
  for (let j = 0; j < n; j++) scales[j] = (scales[j] as number) / 127 || 1;
  const out = new Int8Array(k * n);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < n; j++)
      out[i * n + j] = Math.round((values[i * n + j] as number) / (scales[j] as number));
  }
  return { values: out, scales };
}

const resolve = (data: WeightData): TensorData => (typeof data === 'function' ? data() : data);

const bytesPer = (dtype: DType): number =>
  dtype === DType.int64
    ? 8
    : dtype === DType.float || dtype === DType.int32
      ? 4
      : dtype === DType.float16
        ? 2
        : 1;

/** Gemm(A, B) with transB = 1 and no C: A · Bᵀ over an [n, k] B, as a tied LM head runs. */
function isTransposedGemm(node: Record<string, unknown>): boolean {
  const attributes = node['attribute'] as { name: string; i?: number }[];
  return (
    node['opType'] === 'Gemm' &&
    (node['input'] as string[]).length === 2 &&
    attributes.length === 1 &&
    attributes.some((a) => a.name === 'transB' && a.i === 1)
  );
}
