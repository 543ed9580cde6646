// A repo folder with a checkpoint (and maybe only slow tokenizer files) -> a standard ONNX Hub folder
// that transformers.js loads as it loads an Optimum export: config.json, tokenizer.json,
// tokenizer_config.json, onnx/model[_fp16].onnx, and hubserve-conversion.json saying what was done.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ServeError } from '../errors.ts';
import type { Config } from './architectures/index.ts';
import { checkpointFiles, type CheckpointFiles, openCheckpoint, shardFiles } from './checkpoint/index.ts';
import type { Checkpoint } from './checkpoint/checkpoint.ts';
import { buildDecoder, decoderFor } from './decoders/decoder.ts';
import { buildEncoder } from './encoder.ts';
import type { GraphPart } from './onnx/graph.ts';
import { buildSeq2Seq, seq2seqFor } from './seq2seq/seq2seq.ts';
import { readSentencePipeline, sentenceTransformerFiles } from './sentence-transformers.ts';
import { convertTokenizer, tokenizerSourceFiles } from './tokenizer/index.ts';

/** Bumped whenever a conversion's output changes, so that caches of older ones are not reused. */
export const CONVERTER_VERSION = 2;

export const CONVERTIBLE_DTYPES = ['fp32', 'fp16', 'q8', 'q4'] as const;
export type ConvertibleDtype = (typeof CONVERTIBLE_DTYPES)[number];

export const isConvertibleDtype = (dtype: string): dtype is ConvertibleDtype =>
  (CONVERTIBLE_DTYPES as readonly string[]).includes(dtype);

export const MANIFEST = 'hubserve-conversion.json';

/** Files copied as they are when present: transformers.js or the tasks read them. */
const COPIED = ['config.json', 'generation_config.json', 'special_tokens_map.json'];

export interface ConversionSources {
  checkpoint: CheckpointFiles;
  /**
   * Every file the conversion reads, relative to the repo, except the shards of a sharded checkpoint:
   * its index names them (shardFiles, once the index is at hand).
   */
  files: string[];
}

/** What a conversion of this listing reads, or undefined when the listing has no checkpoint. */
export function conversionSources(listing: readonly string[]): ConversionSources | undefined {
  const checkpoint = checkpointFiles(listing);
  if (!checkpoint) return undefined;
  const present = new Set(listing);
  const tokenizer = present.has('tokenizer.json')
    ? ['tokenizer.json', 'tokenizer_config.json']
    : tokenizerSourceFiles(listing);
  const files = [...COPIED, ...tokenizer, ...sentenceTransformerFiles(listing), checkpoint.file].filter((f) =>
    present.has(f),
  );
  return { checkpoint, files: [...new Set(files)].sort() };
}

export interface ConversionJob {
  /** The repo folder (a snapshot or a local folder). */
  sourceDir: string;
  /** Its files, relative paths. */
  listing: readonly string[];
  /** The folder to write; created. */
  outDir: string;
  dtype: ConvertibleDtype;
}

export interface ConversionManifest {
  converter: number;
  dtype: ConvertibleDtype;
  modelType: string;
  head: string;
  checkpoint: { format: CheckpointFiles['format']; files: string[] };
  /** tokenizer.json as the repo has it, or converted from its slow tokenizer files. */
  tokenizer: 'copied' | 'converted';
  /** The graphs written (one, or a seq2seq model's encoder and decoder), with their inputs and outputs. */
  graphs: { file: string; inputs: string[]; outputs: string[] }[];
  /** The graphs and their weights, in bytes. */
  bytes: number;
  ms: number;
}

/** transformers.js's file suffix for a dtype (its DEFAULT_DTYPE_SUFFIX_MAPPING). */
const SUFFIXES: Record<ConvertibleDtype, string> = { fp32: '', fp16: '_fp16', q8: '_quantized', q4: '_q4' };

/** The file transformers.js opens for graph `name` (model, encoder_model, ...) in a dtype. */
export const graphFile = (dtype: ConvertibleDtype, name = 'model'): string =>
  `onnx/${name}${SUFFIXES[dtype]}.onnx`;

function readConfigJson(dir: string): Config {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch (error) {
    throw new ServeError('invalid_config', `config.json cannot be read (${(error as Error).message})`, {});
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ServeError('invalid_config', 'config.json is not a JSON object', {});
  }
  return config as Config;
}

const writeJson = (path: string, value: unknown): void =>
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);

/** The encoder graph, with a sentence-transformers folder's pooling stages when it is one. */
function buildEncoderFolder(
  checkpoint: Checkpoint,
  config: Config,
  sourceDir: string,
  listing: readonly string[],
): { head: string; parts: GraphPart[] } {
  const pipeline = readSentencePipeline(sourceDir, listing);
  if (pipeline && pipeline.transformerPath !== '') {
    throw new ServeError(
      'unsupported_architecture',
      `modules.json puts the Transformer module in "${pipeline.transformerPath}"; hubserve converts ` +
        'sentence-transformers folders whose Transformer is the repo root',
      { path: pipeline.transformerPath },
    );
  }
  const { head, ...part } = buildEncoder(
    checkpoint,
    config,
    pipeline && { dir: sourceDir, listing, pipeline },
  );
  return { head, parts: [{ name: 'model', ...part }] };
}

/** The graphs of the checkpoint's architecture: a decoder's, a seq2seq model's two, or an encoder's. */
function buildGraphs(
  checkpoint: Checkpoint,
  config: Config,
  sourceDir: string,
  listing: readonly string[],
): { head: string; parts: GraphPart[] } {
  const decoder = decoderFor(config);
  if (decoder)
    return { head: 'causal-lm', parts: [{ name: 'model', ...buildDecoder(checkpoint, config, decoder) }] };
  const seq2seq = seq2seqFor(config);
  if (seq2seq) return { head: 'seq2seq-lm', parts: buildSeq2Seq(checkpoint, config, seq2seq) };
  return buildEncoderFolder(checkpoint, config, sourceDir, listing);
}

/** Converts synchronously (run it off the main thread: see run.ts); `onProgress` counts weight bytes. */
export function convertFolder(
  job: ConversionJob,
  onProgress?: (done: number, total: number) => void,
): ConversionManifest {
  const started = performance.now();
  const { sourceDir, listing, outDir, dtype } = job;
  const sources = conversionSources(listing);
  if (!sources) {
    throw new ServeError(
      'no_onnx_weights',
      'the folder has neither ONNX weights nor a checkpoint (model.safetensors, pytorch_model.bin)',
      {},
    );
  }
  const config = readConfigJson(sourceDir);
  mkdirSync(join(outDir, 'onnx'), { recursive: true });

  const tokenizer = convertTokenizer(sourceDir, listing, config);
  if (tokenizer) {
    writeJson(join(outDir, 'tokenizer.json'), tokenizer.tokenizer);
    writeJson(join(outDir, 'tokenizer_config.json'), tokenizer.tokenizerConfig);
  }
  const copied = [...COPIED, ...(tokenizer ? [] : ['tokenizer.json', 'tokenizer_config.json'])];
  for (const file of copied.filter((f) => listing.includes(f))) {
    mkdirSync(dirname(join(outDir, file)), { recursive: true });
    copyFileSync(join(sourceDir, file), join(outDir, file));
  }

  const checkpoint = openCheckpoint(sourceDir, sources.checkpoint);
  try {
    const { head, parts } = buildGraphs(checkpoint, config, sourceDir, listing);
    for (const { graph } of parts) {
      if (dtype === 'fp16') graph.storeWeightsAsFloat16();
      if (dtype === 'q8') graph.quantizeMatMulWeights();
      if (dtype === 'q4') graph.quantizeMatMulWeightsToInt4();
    }
    // Progress counts the weight bytes of every graph together.
    const total = parts.reduce((n, part) => n + part.graph.weightBytes(), 0);
    let bytes = 0;
    let before = 0;
    for (const { name, graph } of parts) {
      const offset = before;
      bytes += graph.writeFile(join(outDir, graphFile(dtype, name)), {
        producer: 'hubserve',
        docString: `converted by hubserve (converter ${CONVERTER_VERSION}) from ${sources.checkpoint.file}`,
        metadata: { 'hubserve.converter': String(CONVERTER_VERSION), 'hubserve.dtype': dtype },
        ...(onProgress ? { onProgress: (done: number) => onProgress(offset + done, total) } : {}),
      });
      before += graph.weightBytes();
    }
    const manifest: ConversionManifest = {
      converter: CONVERTER_VERSION,
      dtype,
      modelType: String(config['model_type']),
      head,
      checkpoint: { format: sources.checkpoint.format, files: shardFiles(sourceDir, sources.checkpoint) },
      tokenizer: tokenizer ? 'converted' : 'copied',
      graphs: parts.map(({ name, inputs, outputs }) => ({ file: graphFile(dtype, name), inputs, outputs })),
      bytes,
      ms: Math.round(performance.now() - started),
    };
    writeJson(join(outDir, MANIFEST), manifest);
    return manifest;
  } finally {
    checkpoint.close();
  }
}
