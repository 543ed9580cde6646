// pytorch_model.bin as torch.save writes it since torch 1.6: a zip with `<prefix>/data.pkl` (the state
// dict, pickled) and one `<prefix>/data/<key>` entry per storage. The pickle is interpreted by a
// restricted unpickler that runs nothing (pickle.ts); every tensor must lie inside its storage, and
// its bytes are read from disk only when asked for. Several files are the shards of one checkpoint.
import { fstatSync } from 'node:fs';
import { basename } from 'node:path';
import { ServeError } from '../../errors.ts';
import { BYTES_PER_ELEMENT, type Checkpoint, type TensorEntry } from './checkpoint.ts';
import { toFloat32 } from './dtypes.ts';
import { PyDict, TensorRef, unpickle, type Value } from './pickle.ts';
import { badCheckpoint, openShards, readExactly } from './files.ts';
import { ZipArchive, type ZipEntry } from './zip.ts';

/** data.pkl is read whole; real ones are KBs to a few MBs. */
export const MAX_PICKLE_BYTES = 64 * 2 ** 20;
/** A view with more elements than its storage (a broadcast, stride 0) may hold at most this many. */
const MAX_BROADCAST_ELEMENTS = 2 ** 24;

// What torch.save < 1.6 (or _use_new_zipfile_serialization=False) writes first: pickled MAGIC_NUMBER,
// the long 0x1950a86a20f9469cfc6c, as LONG1 with 10 little-endian bytes.
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

interface Located extends TensorEntry {
  archive: ZipArchive;
  entry: ZipEntry;
  /** In elements of dtype, as torch stores views. */
  offset: number;
  stride: readonly number[];
  numel: number;
  /** Last element index read + 1. */
  end: number;
  bigEndian: boolean;
}

function bad(label: string, message: string, details: Record<string, unknown> = {}): ServeError {
  return badCheckpoint(label, message, details);
}

function unsupported(label: string, message: string, details: Record<string, unknown> = {}): ServeError {
  return new ServeError('unsupported_checkpoint', `${label}: ${message}`, { file: label, ...details });
}

const startsWith = (bytes: Uint8Array, at: number, expected: readonly number[]): boolean =>
  expected.every((byte, i) => bytes[at + i] === byte);

/** Refuses what is not a torch >= 1.6 zip archive, saying what it is when that is known. */
function checkKind(head: Uint8Array, label: string): void {
  if (startsWith(head, 0, [0x50, 0x4b])) return; // PK: a zip (local header or empty archive)
  if (head[0] === 0x80 && startsWith(head, 2, LEGACY_MAGIC)) {
    throw unsupported(
      label,
      'this is the legacy torch.save format (torch < 1.6 or _use_new_zipfile_serialization=False), which ' +
        'hubserve does not read; re-save it with torch >= 1.6 (torch.save(torch.load(f), f)) or convert ' +
        'it to safetensors',
      { format: 'legacy' },
    );
  }
  if (startsWith(head, 257, [0x75, 0x73, 0x74, 0x61, 0x72])) {
    throw unsupported(label, 'this is the tar format of torch.save < 0.4, which hubserve does not read', {
      format: 'tar',
    });
  }
  throw bad(label, 'not a pytorch checkpoint: neither a torch.save zip archive nor a legacy torch.save file');
}

/** The one top folder holding data.pkl (torch names it after the file; any name will do). */
function findPrefix(archive: ZipArchive, label: string): string {
  const prefixes: string[] = [];
  for (const name of archive.entries.keys()) {
    const parts = name.split('/');
    if (parts.length === 2 && parts[1] === 'data.pkl') prefixes.push(parts[0] as string);
  }
  if (prefixes.length > 1) throw bad(label, `archive holds ${prefixes.length} data.pkl files`);
  const prefix = prefixes[0];
  if (prefix === undefined) throw bad(label, 'archive has no <folder>/data.pkl: not a torch.save checkpoint');
  if (archive.entries.has(`${prefix}/constants.pkl`)) {
    throw unsupported(
      label,
      'this is a TorchScript archive (torch.jit.save); hubserve reads state dicts saved with torch.save',
      { format: 'torchscript' },
    );
  }
  return prefix;
}

function isBigEndian(archive: ZipArchive, prefix: string, label: string): boolean {
  const entry = archive.entries.get(`${prefix}/byteorder`);
  if (!entry) return false; // torch < 2.1 writes none, and only saved little-endian in practice
  const order = Buffer.from(archive.read(entry, 16)).toString('latin1');
  if (order !== 'little' && order !== 'big') throw bad(label, `byteorder record says "${order}"`);
  return order === 'big';
}

/** The name -> value dict of the pickle: the root, or a common training wrapper's state_dict. */
function stateDict(root: Value, label: string): PyDict {
  if (!(root instanceof PyDict)) throw bad(label, 'the pickle holds no dict: not a state dict');
  const hasTensors = (dict: PyDict): boolean => [...dict.items.values()].some((v) => v instanceof TensorRef);
  if (hasTensors(root)) return root;
  for (const key of ['state_dict', 'model']) {
    const inner = root.items.get(key);
    if (inner instanceof PyDict && hasTensors(inner)) return inner;
  }
  const keys = [...root.items.keys()].slice(0, 10).map(String);
  throw bad(label, `the pickled dict holds no tensors (keys: ${keys.join(', ') || 'none'})`, { keys });
}

const product = (values: readonly number[]): bigint => values.reduce((a, b) => a * BigInt(b), 1n);

/** Checks a tensor against its storage and the archive; the geometry is all in elements. */
function locate(
  name: string,
  tensor: TensorRef,
  archive: ZipArchive,
  prefix: string,
  bigEndian: boolean,
  label: string,
): Located {
  const { storage, offset, shape, stride } = tensor;
  const details = { tensor: name, storage: storage.key };
  const entry = archive.entries.get(`${prefix}/data/${storage.key}`);
  if (!entry)
    throw bad(label, `tensor ${name}: its storage data/${storage.key} is not in the archive`, details);
  const itemSize = BYTES_PER_ELEMENT[storage.dtype];
  if (BigInt(entry.size) < BigInt(storage.numel) * BigInt(itemSize)) {
    throw bad(
      label,
      `tensor ${name}: storage data/${storage.key} holds ${entry.size} bytes, too short for its ` +
        `${storage.numel} ${storage.dtype} elements`,
      details,
    );
  }
  const numel = product(shape);
  let end = 0n;
  if (numel > 0n) {
    end =
      BigInt(offset) +
      1n +
      shape.reduce((sum, size, i) => sum + BigInt(size - 1) * BigInt(stride[i] ?? 0), 0n);
    if (end > BigInt(storage.numel)) {
      throw bad(
        label,
        `tensor ${name} [${shape.join(', ')}] at offset ${offset} with strides [${stride.join(', ')}] reaches ` +
          `element ${end - 1n} of a storage of ${storage.numel}`,
        details,
      );
    }
    if (numel > BigInt(storage.numel) && numel > BigInt(MAX_BROADCAST_ELEMENTS)) {
      throw bad(
        label,
        `tensor ${name} repeats its storage's elements into ${numel} (a broadcast view)`,
        details,
      );
    }
  }
  archive.dataStart(entry); // the local header, checked now rather than at the first read
  return {
    dtype: storage.dtype,
    shape,
    archive,
    entry,
    offset,
    stride,
    numel: Number(numel),
    end: Number(end),
    bigEndian,
  };
}

/** Reads one file's state dict; its tensors keep the archive (and fd) for reading. */
function readFile(fd: number, file: string): Map<string, Located> {
  const label = basename(file);
  const size = fstatSync(fd).size;
  if (size < 22) throw bad(label, `${size} bytes is too short for a pytorch checkpoint`);
  checkKind(readExactly(fd, Math.min(size, 262), 0, label), label);
  const archive = ZipArchive.open(fd, label, size);
  const prefix = findPrefix(archive, label);
  const bigEndian = isBigEndian(archive, prefix, label);
  const pickleName = `${prefix}/data.pkl`;
  const pickle = archive.read(archive.entries.get(pickleName) as ZipEntry, MAX_PICKLE_BYTES);
  const dict = stateDict(unpickle(pickle, label, pickleName), label);

  const tensors = new Map<string, Located>();
  for (const [name, value] of dict.items) {
    if (!(value instanceof TensorRef)) continue; // _metadata, step counters and the like
    if (typeof name !== 'string') throw bad(label, `a tensor is keyed by ${String(name)}, not a name`);
    tensors.set(name, locate(name, value, archive, prefix, bigEndian, label));
  }
  return tensors;
}

/** Reverses each element's bytes in place. */
function swapBytes(bytes: Uint8Array, itemSize: number): void {
  for (let at = 0; at < bytes.length; at += itemSize) bytes.subarray(at, at + itemSize).reverse();
}

/** A tensor's values in row-major order of its shape, gathered from its (possibly strided) span. */
function values(tensor: Located): Float32Array {
  if (tensor.numel === 0) return new Float32Array(0);
  const itemSize = BYTES_PER_ELEMENT[tensor.dtype];
  const bytes = tensor.archive.readRange(
    tensor.entry,
    tensor.offset * itemSize,
    (tensor.end - tensor.offset) * itemSize,
  );
  if (tensor.bigEndian && itemSize > 1) swapBytes(bytes, itemSize);
  const span = toFloat32(bytes, tensor.dtype);
  const { shape, stride } = tensor;
  // Row-major strides (any stride on a dimension of size 1) read the span as it is.
  let expected = 1;
  let contiguous = true;
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d] as number;
    if (size !== 1 && stride[d] !== expected) contiguous = false;
    expected *= size;
  }
  if (contiguous) return span;
  const out = new Float32Array(tensor.numel);
  const index = new Array<number>(shape.length).fill(0);
  let source = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = span[source] as number;
    for (let d = shape.length - 1; d >= 0; d--) {
      const size = shape[d] as number;
      const step = stride[d] as number;
      const at = (index[d] as number) + 1;
      if (at < size) {
        index[d] = at;
        source += step;
        break;
      }
      index[d] = 0;
      source -= step * (size - 1);
    }
  }
  return out;
}

/**
 * Opens a pytorch_model.bin checkpoint: one file, or the shards a pytorch_model.bin.index.json names.
 * Throws `unsafe_checkpoint` for a pickle that asks for anything but a state dict's vocabulary,
 * `unsupported_checkpoint` for formats not read (legacy torch.save, TorchScript, quantized tensors),
 * `bad_checkpoint` for a file that lies or is damaged.
 */
export function openPytorchCheckpoint(files: readonly string[]): Checkpoint {
  return openShards('pytorch', files, readFile, values);
}
