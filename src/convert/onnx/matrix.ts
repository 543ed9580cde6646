// Row-major float matrices, as checkpoints store weights and ONNX initializers hold them.

/** A row-major [rows, cols] matrix as [cols, rows]. */
export function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c] as number;
  }
  return out;
}
