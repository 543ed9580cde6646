// A small ONNX graph builder: enough to write real models (encoders, attention, KV caches) from
// TypeScript. Values are named strings; every op returns the name of its (first) output.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const schema = protobuf.parse(readFileSync(new URL('./onnx.proto', import.meta.url), 'utf8')).root;
const ModelProto = schema.lookupType('onnx.ModelProto');

/** ONNX TensorProto.DataType values used here. */
export const DType = { float: 1, uint8: 2, int8: 3, int64: 7, bool: 9 } as const;
export type DType = (typeof DType)[keyof typeof DType];

/** A dimension: a fixed size, or a symbolic name such as `batch_size`. */
export type Dim = number | string;

export type TensorData = Float32Array | BigInt64Array | Int8Array | Uint8Array;

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
  rawData: Uint8Array;
}

function tensorMessage(name: string, dtype: DType, dims: readonly number[], data: TensorData): TensorMessage {
  const expected = dims.reduce((a, b) => a * b, 1);
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

export class Graph {
  private readonly nodes: Record<string, unknown>[] = [];
  private readonly initializers: TensorMessage[] = [];
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

  /** A named weight. */
  weight(name: string, dtype: DType, dims: readonly number[], data: TensorData): string {
    this.initializers.push(tensorMessage(name, dtype, dims, data));
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
    const out = output ?? this.fresh(opType.toLowerCase());
    this.nodes.push({
      opType,
      name: this.fresh(`node_${opType}`),
      input: [...inputs],
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

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

  /** Serialized ModelProto (deterministic: same graph, same bytes). */
  toBytes(opset = 17, docString = ''): Uint8Array {
    const message = ModelProto.fromObject({
      irVersion: 8,
      producerName: 'hubserve-testmodels',
      producerVersion: '1',
      docString,
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return ModelProto.encode(message).finish();
  }
}
