// Stored element types -> float32, for every dtype a checkpoint may hold.
import type { StoredDtype } from './checkpoint.ts';

/** IEEE half -> float32, exactly (every half is a float32). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

let halfTable: Float32Array | undefined;

/**
 * Little-endian `bytes` of `dtype` -> float32 values. `bytes` may start at any offset (a view into a
 * larger read), so multi-byte types are read through a DataView when unaligned.
 */
export function toFloat32(bytes: Uint8Array, dtype: StoredDtype): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      return bytes.byteOffset % 4 === 0
        ? new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
        : Float32Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
    case 'F16': {
      halfTable ??= Float32Array.from({ length: 65536 }, (_, h) => halfToFloat(h));
      const table = halfTable;
      const out = new Float32Array(bytes.byteLength / 2);
      for (let i = 0; i < out.length; i++) out[i] = table[view.getUint16(i * 2, true)] as number;
      return out;
    }
    case 'BF16': {
      // bfloat16 is the upper half of a float32.
      const words = new Uint32Array(bytes.byteLength / 2);
      for (let i = 0; i < words.length; i++) words[i] = view.getUint16(i * 2, true) << 16;
      return new Float32Array(words.buffer);
    }
    case 'F64':
      return Float32Array.from({ length: bytes.byteLength / 8 }, (_, i) => view.getFloat64(i * 8, true));
    case 'I64':
      return Float32Array.from({ length: bytes.byteLength / 8 }, (_, i) =>
        Number(view.getBigInt64(i * 8, true)),
      );
    case 'I32':
      return Float32Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getInt32(i * 4, true));
    case 'I16':
      return Float32Array.from({ length: bytes.byteLength / 2 }, (_, i) => view.getInt16(i * 2, true));
    case 'I8':
      return Float32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    case 'U8':
    case 'BOOL':
      return Float32Array.from(bytes);
  }
}
