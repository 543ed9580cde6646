// safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}}, then the raw little-endian bytes. The header is untrusted:
// its length is bounded before it is read, and every tensor must lie inside the file, fit its dtype and
// shape exactly, and overlap no other. Values are read from disk one tensor at a time.
import { fstatSync } from 'node:fs';
import { basename } from 'node:path';
import type { ServeError } from '../../errors.ts';
import { BYTES_PER_ELEMENT, type Checkpoint, type StoredDtype, type TensorEntry } from './checkpoint.ts';
import { toFloat32 } from './dtypes.ts';
import { badCheckpoint, openShards, readExactly } from './files.ts';

/** The format's own limit on the header (safetensors refuses larger ones too). */
export const MAX_HEADER_BYTES = 100 * 2 ** 20;

interface Located extends TensorEntry {
  fd: number;
  file: string;
  /** Absolute byte offset in the file, and byte length. */
  start: number;
  length: number;
}

const isDtype = (value: unknown): value is StoredDtype =>
  typeof value === 'string' && Object.hasOwn(BYTES_PER_ELEMENT, value);

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

const bad = (file: string, message: string, details: Record<string, unknown> = {}): ServeError =>
  badCheckpoint(basename(file), message, details);

/** Parses and checks one file's header; the tensors keep `fd` for reading. */
function readHeader(fd: number, file: string): Map<string, Located> {
  const size = fstatSync(fd).size;
  if (size < 8) throw bad(file, `${size} bytes is too short for a safetensors file`);
  const prefix = new DataView(readExactly(fd, 8, 0, basename(file)).buffer);
  const headerLength = prefix.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) {
    throw bad(
      file,
      `header length ${headerLength} is over ${headerLength > MAX_HEADER_BYTES ? 'the limit of 100 MiB' : 'the file size'}`,
      { headerLength: headerLength.toString() },
    );
  }
  const dataStart = 8 + Number(headerLength);
  const dataSize = size - dataStart;
  let header: unknown;
  try {
    header = JSON.parse(
      Buffer.from(readExactly(fd, Number(headerLength), 8, basename(file))).toString('utf8'),
    );
  } catch {
    header = undefined;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw bad(file, 'the header is not a JSON object');
  }

  const tensors = new Map<string, Located>();
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (value ?? {}) as Record<string, unknown>;
    if (!isDtype(dtype))
      throw bad(file, `tensor ${name} has unknown dtype ${String(dtype)}`, { tensor: name });
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw bad(file, `tensor ${name} has no valid shape`, { tensor: name });
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw bad(file, `tensor ${name} has no valid data_offsets`, { tensor: name });
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataSize) {
      throw bad(file, `tensor ${name} lies outside the file (bytes ${begin}-${end} of ${dataSize})`, {
        tensor: name,
      });
    }
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    if (elements * BYTES_PER_ELEMENT[dtype] !== end - begin) {
      throw bad(
        file,
        `tensor ${name}: ${dtype} [${shape.join(', ')}] needs ${elements * BYTES_PER_ELEMENT[dtype]} bytes, ` +
          `its offsets span ${end - begin}`,
        { tensor: name },
      );
    }
    tensors.set(name, { dtype, shape, fd, file, start: dataStart + begin, length: end - begin });
  }
  const ordered = [...tensors.entries()].sort(([, a], [, b]) => a.start - b.start || a.length - b.length);
  for (let i = 1; i < ordered.length; i++) {
    const [previousName, previous] = ordered[i - 1] as [string, Located];
    const [name, current] = ordered[i] as [string, Located];
    if (current.start < previous.start + previous.length) {
      throw bad(file, `tensors ${previousName} and ${name} overlap`, { tensor: name });
    }
  }
  return tensors;
}

/** Opens a safetensors checkpoint: one file, or the shards a model.safetensors.index.json names. */
export function openSafetensors(files: readonly string[]): Checkpoint {
  return openShards('safetensors', files, readHeader, (tensor) =>
    toFloat32(readExactly(tensor.fd, tensor.length, tensor.start, basename(tensor.file)), tensor.dtype),
  );
}
