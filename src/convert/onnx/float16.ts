// float32 -> IEEE half, rounded to nearest even as numpy and torch round (Inf past 65504, subnormals
// kept), for weights stored in float16.
const single = new Float32Array(1);
const bits = new Uint32Array(single.buffer);

export function toHalf(x: number): number {
  single[0] = x;
  const b = bits[0] as number;
  const sign = (b >>> 16) & 0x8000;
  const exponent = (b >>> 23) & 0xff;
  let mantissa = b & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const kept = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (rest > halfway || (rest === halfway && kept & 1) ? kept + 1 : kept);
  }
  const h = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa lands in the exponent, which is the right rounding too.
  return sign | (rest > 0x1000 || (rest === 0x1000 && h & 1) ? h + 1 : h);
}

export function toFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toHalf(values[i] as number);
  return out;
}
