// Which files of a repo hold its weights, and the reader for them: safetensors (preferred, as
// transformers prefers it) or pytorch_model.bin, single-file or sharded with an index.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServeError } from '../../errors.ts';
import type { Checkpoint } from './checkpoint.ts';
import { openPytorchCheckpoint } from './pytorch.ts';
import { openSafetensors } from './safetensors.ts';

export type { Checkpoint, StoredDtype, TensorEntry } from './checkpoint.ts';

/** An index bigger than this is not a weight map (real ones are tens of KB). */
const MAX_INDEX_BYTES = 16 * 2 ** 20;

interface Layout {
  format: Checkpoint['format'];
  single: string;
  index: string;
}

const LAYOUTS: readonly Layout[] = [
  {
    format: 'safetensors',
    single: 'model.safetensors',
    index: 'model.safetensors.index.json',
  },
  {
    format: 'pytorch',
    single: 'pytorch_model.bin',
    index: 'pytorch_model.bin.index.json',
  },
];

export interface CheckpointFiles {
  format: Checkpoint['format'];
  /** The weight file, or the index of the shards (relative to the repo); shardFiles() names those. */
  file: string;
}

/** The weight files of a listing (paths inside `prefix`, '' for the repo root), safetensors first. */
export function checkpointFiles(listing: readonly string[], prefix = ''): CheckpointFiles | undefined {
  const inFolder = listing
    .filter((f) => f.startsWith(prefix) && !f.slice(prefix.length).includes('/'))
    .map((f) => f.slice(prefix.length));
  for (const layout of LAYOUTS) {
    for (const file of [layout.index, layout.single]) {
      if (inFolder.includes(file)) return { format: layout.format, file: prefix + file };
    }
  }
  return undefined;
}

const isIndex = (file: string): boolean => file.endsWith('.index.json');

/**
 * The weight files (relative to the repo): the one file, or the shards its index (already in `dir`)
 * names, each once, checked to be plain file names beside the index.
 */
export function shardFiles(dir: string, found: CheckpointFiles): string[] {
  if (!isIndex(found.file)) return [found.file];
  const index = found.file;
  const base = index.includes('/') ? index.slice(0, index.lastIndexOf('/') + 1) : '';
  const path = join(dir, index);
  const bytes = readFileSync(path);
  if (bytes.length > MAX_INDEX_BYTES) {
    throw new ServeError('bad_checkpoint', `${index} is ${bytes.length} bytes, too big for a weight index`, {
      file: index,
    });
  }
  let map: unknown;
  try {
    map = (JSON.parse(bytes.toString('utf8')) as { weight_map?: unknown }).weight_map;
  } catch {
    map = undefined;
  }
  if (typeof map !== 'object' || map === null) {
    throw new ServeError('bad_checkpoint', `${index} has no weight_map object`, { file: index });
  }
  const shards = [...new Set(Object.values(map))];
  const bad = shards.find((s) => typeof s !== 'string' || !/^[\w.-]+$/.test(s) || s.startsWith('.'));
  if (bad !== undefined || shards.length === 0) {
    throw new ServeError('bad_checkpoint', `${index} names a shard that is no file name: ${String(bad)}`, {
      file: index,
    });
  }
  return (shards as string[]).map((s) => base + s);
}

/** Opens the checkpoint in `dir` that `files` (from checkpointFiles) names, its shards included. */
export function openCheckpoint(dir: string, found: CheckpointFiles): Checkpoint {
  const files = shardFiles(dir, found).map((f) => join(dir, f));
  return found.format === 'safetensors' ? openSafetensors(files) : openPytorchCheckpoint(files);
}
