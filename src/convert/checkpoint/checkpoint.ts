// What every checkpoint reader gives the converter: tensor names with their stored dtype and shape,
// and the values of one tensor at a time as float32, read from disk when asked for.

/** Element types as safetensors names them (pytorch_model.bin storages map onto the same names). */
export type StoredDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const BYTES_PER_ELEMENT: Record<StoredDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface TensorEntry {
  dtype: StoredDtype;
  shape: readonly number[];
}

export interface Checkpoint {
  readonly format: 'safetensors' | 'pytorch';
  /** Every tensor of the checkpoint (all shards), by its state-dict name. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  /** The tensor's values converted to float32, in row-major order of its shape. */
  readFloat32(name: string): Float32Array;
  /** Closes the files; the checkpoint cannot be read afterwards. */
  close(): void;
}
