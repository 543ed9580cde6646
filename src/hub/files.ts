// Which files of a model transformers.js loads for a dtype, so that only those are downloaded.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import {
  type CheckpointFiles,
  conversionSources,
  CONVERTIBLE_DTYPES,
  isConvertibleDtype,
} from '../convert/index.ts';
import { ServeError } from '../errors.ts';

/** The dtypes hubserve accepts: transformers.js's, less `auto` (which picks files only at load time). */
export const DTYPES = [
  'fp32',
  'fp16',
  'q8',
  'int8',
  'uint8',
  'q4',
  'q4f16',
  'bnb4',
  'q2',
  'q2f16',
  'q1',
  'q1f16',
] as const;

export type Dtype = (typeof DTYPES)[number];

export const isDtype = (value: string): value is Dtype => (DTYPES as readonly string[]).includes(value);

// DEFAULT_DTYPE_SUFFIX_MAPPING of transformers.js (src/utils/dtypes.js).
const SUFFIX: Record<Dtype, string> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
  q2: '_q2',
  q2f16: '_q2f16',
  q1: '_q1',
  q1f16: '_q1f16',
};

export type ModelConfig = Record<string, unknown>;

const REQUIRED = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
const OPTIONAL = new Set(['generation_config.json', 'special_tokens_map.json', 'preprocessor_config.json']);

/** The ONNX graphs transformers.js opens: encoder + merged decoder for seq2seq, else one model. */
const onnxGraphs = (config: ModelConfig): string[] =>
  config['is_encoder_decoder'] === true ? ['encoder_model', 'decoder_model_merged'] : ['model'];

const onnxFiles = (config: ModelConfig, dtype: Dtype): string[] =>
  onnxGraphs(config).map((graph) => `onnx/${graph}${SUFFIX[dtype]}.onnx`);

/** ONNX Runtime finds external weights next to the graph: `<graph>.onnx_data`, `<graph>.onnx_data_1`, ... */
const isExternalData = (file: string, onnx: string): boolean =>
  file.startsWith(`${onnx}_data`) && /^(?:_\d+)?$/.test(file.slice(onnx.length + '_data'.length));

export interface FileSelection {
  /** Every file to load, sorted: the required ones, and optional ones and external data present in the listing. */
  files: string[];
  /** Required files that the listing lacks. */
  missing: string[];
}

export function selectFiles(config: ModelConfig, dtype: Dtype, listing: readonly string[]): FileSelection {
  const present = new Set(listing);
  const onnx = onnxFiles(config, dtype);
  const required = [...REQUIRED, ...onnx];
  const extras = listing.filter((f) => OPTIONAL.has(f) || onnx.some((o) => isExternalData(f, o)));
  return {
    files: [...new Set([...required, ...extras])].sort(),
    missing: required.filter((f) => !present.has(f)),
  };
}

/** The dtypes for which the listing has every ONNX graph. */
export function availableDtypes(config: ModelConfig, listing: readonly string[]): Dtype[] {
  const present = new Set(listing);
  return DTYPES.filter((dtype) => onnxFiles(config, dtype).every((f) => present.has(f)));
}

/** Where a model's weights come from: ONNX files in the repo, or its checkpoint, converted. */
export const WEIGHTS_MODES = ['auto', 'onnx', 'checkpoint'] as const;
export type WeightsMode = (typeof WEIGHTS_MODES)[number];

export interface FilePlan {
  weights: 'onnx' | 'checkpoint';
  /** The files to fetch, sorted (for a sharded checkpoint, its index: the shards come after it). */
  files: string[];
  checkpoint?: CheckpointFiles;
}

/**
 * The files to load from a complete listing (a Hub repo or a local folder): the dtype's ONNX graphs
 * when `weights` allows and the listing has them, else (`auto`, `checkpoint`) the checkpoint and the
 * files its conversion reads. Throws `no_onnx_weights` when there is neither, `invalid_config` when
 * another required file is missing or the dtype cannot be converted.
 */
export function neededFiles(
  label: string,
  config: ModelConfig,
  dtype: Dtype,
  listing: readonly string[],
  details: Record<string, unknown>,
  weights: WeightsMode = 'auto',
): FilePlan {
  const { files, missing } = selectFiles(config, dtype, listing);
  const missingOnnx = missing.filter((f) => f.endsWith('.onnx'));
  const sources = weights === 'onnx' ? undefined : conversionSources(listing);
  if (weights === 'checkpoint' || (missingOnnx.length > 0 && sources)) {
    if (!sources) {
      throw new ServeError(
        'no_onnx_weights',
        `${label} has no checkpoint (model.safetensors or pytorch_model.bin) to convert, which ` +
          '`weights: checkpoint` asks for',
        { ...details, weights },
      );
    }
    if (!isConvertibleDtype(dtype)) {
      throw new ServeError(
        'invalid_config',
        `${label} is converted from its checkpoint, which hubserve does in ${CONVERTIBLE_DTYPES.join(', ')}; ` +
          `dtype ${dtype} needs a repo with ONNX weights for it`,
        { ...details, dtype, convertible: CONVERTIBLE_DTYPES },
      );
    }
    return { weights: 'checkpoint', files: sources.files, checkpoint: sources.checkpoint };
  }
  if (missingOnnx.length > 0) {
    const available = availableDtypes(config, listing);
    const facts = { ...details, dtype, availableDtypes: available, missing: missingOnnx };
    if (!listing.some((f) => f.endsWith('.onnx'))) {
      throw new ServeError(
        'no_onnx_weights',
        `${label} has no ONNX weights (.onnx files), which hubserve runs` +
          (weights === 'onnx'
            ? ' (`weights: onnx` rules out converting its checkpoint)'
            : ', nor a checkpoint (model.safetensors, pytorch_model.bin) to convert') +
          ': use an ONNX export such as the onnx-community/ or Xenova/ repos, or convert with ' +
          'optimum-cli export onnx',
        facts,
      );
    }
    throw new ServeError(
      'no_onnx_weights',
      `${label} has no ONNX weights for dtype ${dtype} (${missingOnnx.join(', ')}); ` +
        (available.length > 0
          ? `available dtypes: ${available.join(', ')}; set dtype to one of them`
          : `its .onnx files are not in the layout transformers.js loads (onnx/model.onnx, ` +
            `onnx/encoder_model.onnx + onnx/decoder_model_merged.onnx, ...)`),
      facts,
    );
  }
  if (missing.length > 0) {
    throw new ServeError(
      'invalid_config',
      `${label} lacks ${missing.join(', ')}, which transformers.js needs to load it: use a complete ` +
        `transformers.js export (e.g. from the onnx-community/ or Xenova/ repos)`,
      { ...details, missing },
    );
  }
  return { weights: 'onnx', files };
}

/**
 * Files under `dir` (following symlinks, as in cache snapshots), as `/`-separated relative paths; [] when
 * `dir` is no folder.
 */
export async function folderFiles(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
  const files: string[] = [];
  for (const entry of entries.sort()) {
    if (entry === '.git' || entry.startsWith(`.git${sep}`)) continue;
    const st = await stat(join(dir, entry)).catch(() => undefined); // a broken link is no file
    if (st?.isFile()) files.push(entry.split(sep).join('/'));
  }
  return files;
}

/** Reads a model folder's config.json. */
export async function readConfig(dir: string, label: string): Promise<ModelConfig> {
  const text = await readFile(join(dir, 'config.json'), 'utf8');
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    config = undefined;
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ServeError('invalid_config', `config.json of ${label} is not a JSON object`, { label });
  }
  return config as ModelConfig;
}
