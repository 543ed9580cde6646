// Random checkpoints of real models' shapes for the benchmarks: a safetensors file under Hugging
// Face's tensor names, written one tensor at a time (a 0.5B model is 2 GB), the same bytes every run.
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A tensor's name and shape. */
export type TensorSpec = [string, number[]];

/** Deterministic uniform weights of std ~0.02 (xorshift). */
export function randomWeights(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 2 ** 32 - 0.5) * 0.07;
  }
  return out;
}

/**
 * Writes `dir`/model.safetensors (unless it is there: kept for the next run) with the tensors'
 * values from `values` (random by default; norms' weights 1 and biases 0). Returns its data bytes.
 */
export function writeCheckpoint(
  dir: string,
  tensors: readonly TensorSpec[],
  values: (name: string, count: number, index: number) => Float32Array = defaultValues,
): number {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of tensors) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const file = join(dir, 'model.safetensors');
  if (existsSync(file)) return offset;
  mkdirSync(dir, { recursive: true });
  const json = Buffer.from(JSON.stringify(header));
  const fd = openSync(`${file}.tmp`, 'w');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeSync(fd, length);
  writeSync(fd, json);
  for (const [i, [name, shape]] of tensors.entries()) {
    writeSync(
      fd,
      new Uint8Array(
        values(
          name,
          shape.reduce((a, b) => a * b, 1),
          i,
        ).buffer,
      ),
    );
  }
  closeSync(fd);
  renameSync(`${file}.tmp`, file);
  return offset;
}

function defaultValues(name: string, count: number, index: number): Float32Array {
  if (/(LayerNorm|layernorm|norm)\.weight$/.test(name)) return new Float32Array(count).fill(1);
  if (/(LayerNorm|layernorm|norm)\.bias$/.test(name)) return new Float32Array(count);
  return randomWeights(count, index + 1);
}
