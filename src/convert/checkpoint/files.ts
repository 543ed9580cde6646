// What every checkpoint reader does with its files: exact reads that say where a file ends early,
// `bad_checkpoint` errors that name the file, and the shards of one checkpoint opened as one (each
// tensor in exactly one shard, every file closed on failure or on close()).
import { closeSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { ServeError } from '../../errors.ts';
import type { Checkpoint, TensorEntry } from './checkpoint.ts';

export function badCheckpoint(
  label: string,
  message: string,
  details: Record<string, unknown> = {},
): ServeError {
  return new ServeError('bad_checkpoint', `${label}: ${message}`, { file: label, ...details });
}

export function readExactly(fd: number, length: number, position: number, label: string): Uint8Array {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, bytes, done, length - done, position + done);
    if (n === 0)
      throw badCheckpoint(label, `file ends at byte ${position + done}, ${length - done} bytes early`);
    done += n;
  }
  return bytes;
}

/**
 * Opens `files` (the shards of one checkpoint) with `readFile`, which lists one file's tensors (they
 * may keep its fd for reading), and reads a tensor's values with `read`.
 */
export function openShards<T extends TensorEntry>(
  format: Checkpoint['format'],
  files: readonly string[],
  readFile: (fd: number, file: string) => Map<string, T>,
  read: (tensor: T) => Float32Array,
): Checkpoint {
  const fds: number[] = [];
  const located = new Map<string, { tensor: T; file: string }>();
  try {
    for (const file of files) {
      const fd = openSync(file, 'r');
      fds.push(fd);
      for (const [name, tensor] of readFile(fd, file)) {
        const other = located.get(name);
        if (other) {
          throw badCheckpoint(basename(file), `tensor ${name} is also in ${basename(other.file)}`, {
            tensor: name,
            otherFile: basename(other.file),
          });
        }
        located.set(name, { tensor, file });
      }
    }
  } catch (error) {
    for (const fd of fds) closeSync(fd);
    throw error;
  }
  let open = true;
  return {
    format,
    tensors: new Map(
      [...located].map(([name, { tensor }]) => [name, { dtype: tensor.dtype, shape: tensor.shape }]),
    ),
    readFloat32(name: string): Float32Array {
      const found = located.get(name);
      if (!open || !found) throw new Error(`no tensor ${name} to read${open ? '' : ': checkpoint closed'}`);
      return read(found.tensor);
    },
    close(): void {
      if (!open) return;
      open = false;
      for (const fd of fds) closeSync(fd);
    },
  };
}
