// Block-wise 4-bit weights as ONNX Runtime's MatMulNBits (com.microsoft) reads them: a weight of N
// output columns and K inputs is stored column by column, each column in blocks of `blockSize`
// values, each block as 4-bit integers q (two per byte, the lower nibble first) with one float scale;
// the value is (q - zero point) · scale. Symmetric: the zero point is 8 and scale = max |block| / 7.

export interface Int4Weight {
  /** [N, blocks, blockSize / 2] bytes. */
  packed: Uint8Array;
  /** [N · blocks] */
  scales: Float32Array;
  /** [N · ceil(blocks / 2)]: every nibble 8. */
  zeroPoints: Uint8Array;
  blocks: number;
}

/** Quantizes `columns`: N rows of K values each (row-major [N, K]), K padded with zeros to full blocks. */
export function quantizeInt4(columns: Float32Array, n: number, k: number, blockSize: number): Int4Weight {
  const blocks = Math.ceil(k / blockSize);
  const half = blockSize / 2;
  const packed = new Uint8Array(n * blocks * half);
  const scales = new Float32Array(n * blocks);
  const q = new Uint8Array(blockSize);
  for (let col = 0; col < n; col++) {
    for (let block = 0; block < blocks; block++) {
      const start = col * k + block * blockSize;
      const length = Math.min(blockSize, k - block * blockSize);
      let max = 0;
      for (let i = 0; i < length; i++) max = Math.max(max, Math.abs(columns[start + i] as number));
      const scale = max / 7 || 1;
      scales[col * blocks + block] = scale;
      q.fill(8);
      for (let i = 0; i < length; i++) {
        q[i] = Math.min(15, Math.max(0, Math.round((columns[start + i] as number) / scale) + 8));
      }
      const at = (col * blocks + block) * half;
      for (let j = 0; j < half; j++) packed[at + j] = (q[2 * j] as number) | ((q[2 * j + 1] as number) << 4);
    }
  }
  const zeroPoints = new Uint8Array(n * Math.ceil(blocks / 2)).fill(0x88);
  return { packed, scales, zeroPoints, blocks };
}
