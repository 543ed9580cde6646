// sentence-transformers folders (modules.json): the Transformer module's hidden states, then Pooling,
// Dense and Normalize as the library runs them (sentence_transformers/models/{Pooling,Dense,Normalize}.py),
// built into the graph as its `sentence_embedding` output.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServeError } from '../errors.ts';
import { checkpointFiles, openCheckpoint } from './checkpoint/index.ts';
import { firstToken } from './layers.ts';
import { DType, type Graph } from './onnx/graph.ts';
import { transpose } from './onnx/matrix.ts';

/** Pooling modes in the order Pooling.forward concatenates them. */
const POOLING_MODES = [
  'cls_token',
  'max_tokens',
  'mean_tokens',
  'mean_sqrt_len_tokens',
  'weightedmean_tokens',
  'lasttoken',
] as const;
type PoolingMode = (typeof POOLING_MODES)[number];

/** Pooling's `pooling_mode` string names the same modes. */
const MODE_NAMES: Record<string, PoolingMode> = {
  cls: 'cls_token',
  max: 'max_tokens',
  mean: 'mean_tokens',
  weightedmean: 'weightedmean_tokens',
  lasttoken: 'lasttoken',
};

interface Dense {
  path: string;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  activation: string;
}

export interface SentencePipeline {
  /** The Transformer module's folder ('' for the repo root, as most repos have it). */
  transformerPath: string;
  pooling: PoolingMode[];
  dense: Dense[];
  normalize: boolean;
  /** Every file the stages after the Transformer read, relative to the repo. */
  files: string[];
}

interface Module {
  path: string;
  type: string;
}

const MODULE = 'sentence_transformers.models.';

function readJson(dir: string, file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  } catch (error) {
    throw new ServeError('bad_checkpoint', `${file} cannot be read as JSON (${(error as Error).message})`, {
      file,
    });
  }
  if (typeof value !== 'object' || value === null) {
    throw new ServeError('bad_checkpoint', `${file} is not a JSON object or array`, { file });
  }
  return value as Record<string, unknown>;
}

const folder = (path: string): string => (path === '' || path.endsWith('/') ? path : `${path}/`);

/** The files a sentence-transformers folder's modules need (to download), without the Transformer's. */
export function sentenceTransformerFiles(listing: readonly string[]): string[] {
  return listing.filter(
    (f) =>
      f === 'modules.json' ||
      f === 'sentence_bert_config.json' ||
      /^\d+_[A-Za-z]+\/(config\.json|model\.safetensors|pytorch_model\.bin)$/.test(f),
  );
}

/** The pipeline modules.json in `dir` describes, or undefined for a plain transformers folder. */
export function readSentencePipeline(dir: string, listing: readonly string[]): SentencePipeline | undefined {
  if (!listing.includes('modules.json')) return undefined;
  const modules = readJson(dir, 'modules.json') as unknown as Module[];
  if (!Array.isArray(modules)) throw new ServeError('bad_checkpoint', 'modules.json is not a list', {});
  const pipeline: SentencePipeline = {
    transformerPath: '',
    pooling: [],
    dense: [],
    normalize: false,
    files: [],
  };
  let seenTransformer = false;
  for (const module of modules) {
    const kind = String(module.type).startsWith(MODULE) ? String(module.type).slice(MODULE.length) : '';
    const path = folder(String(module.path ?? ''));
    if (!/^[\w./-]*$/.test(path) || path.includes('..')) {
      throw new ServeError(
        'bad_checkpoint',
        `modules.json names a module path "${path}" outside the repo`,
        {},
      );
    }
    if (kind === 'Transformer' && !seenTransformer) {
      seenTransformer = true;
      pipeline.transformerPath = path;
    } else if (kind === 'Pooling' && seenTransformer && pipeline.pooling.length === 0) {
      pipeline.pooling = poolingModes(readJson(dir, `${path}config.json`), `${path}config.json`);
      pipeline.files.push(`${path}config.json`);
    } else if (kind === 'Dense' && pipeline.pooling.length > 0) {
      const config = readJson(dir, `${path}config.json`);
      pipeline.dense.push({
        path,
        inFeatures: Number(config['in_features']),
        outFeatures: Number(config['out_features']),
        bias: config['bias'] !== false,
        activation: String(config['activation_function'] ?? 'torch.nn.modules.activation.Tanh'),
      });
      const weights = checkpointFiles(listing, path);
      pipeline.files.push(`${path}config.json`, ...(weights ? [weights.file] : []));
    } else if (kind === 'Normalize' && pipeline.pooling.length > 0) {
      pipeline.normalize = true;
    } else {
      throw new ServeError(
        'unsupported_architecture',
        `modules.json has a ${module.type} module at that place, which hubserve cannot convert ` +
          '(supported: Transformer, then Pooling, Dense and Normalize)',
        { module: module.type },
      );
    }
  }
  return pipeline.pooling.length > 0 ? pipeline : undefined;
}

function poolingModes(config: Record<string, unknown>, file: string): PoolingMode[] {
  const named = config['pooling_mode'];
  if (typeof named === 'string') {
    const mode = MODE_NAMES[named.toLowerCase()];
    if (!mode) throw new ServeError('unsupported_architecture', `${file}: pooling_mode "${named}"`, { file });
    return [mode];
  }
  const modes = POOLING_MODES.filter((mode) => config[`pooling_mode_${mode}`] === true);
  if (modes.length === 0)
    throw new ServeError('bad_checkpoint', `${file} turns every pooling mode off`, { file });
  if (config['include_prompt'] === false) {
    throw new ServeError(
      'unsupported_architecture',
      `${file}: include_prompt false (pooling without the prompt's tokens) is not supported`,
      { file },
    );
  }
  return modes;
}

/** Dense's activation_function, by its torch class. */
function denseActivation(g: Graph, x: string, name: string): string {
  const cls = name.slice(name.lastIndexOf('.') + 1);
  switch (cls) {
    case 'Identity':
      return x;
    case 'Tanh':
      return g.op('Tanh', [x]);
    case 'ReLU':
      return g.op('Relu', [x]);
    case 'Sigmoid':
      return g.op('Sigmoid', [x]);
    case 'GELU':
      return g.mul(g.mul(x, g.f32([0.5])), g.add(g.f32([1]), g.op('Erf', [g.div(x, g.f32([Math.SQRT2]))])));
    default:
      throw new ServeError('unsupported_architecture', `Dense activation ${name} is not supported`, {
        activation: name,
      });
  }
}

/** One pooling mode over hidden [b, s, h] with maskF [b, s, 1] (float) -> [b, h]. */
function pool(g: Graph, mode: PoolingMode, hidden: string, maskF: string, mask: string): string {
  const clamp = (x: string): string => g.op('Max', [x, g.f32([1e-9])]);
  const maskedSum = (weights: string): string => g.reduceSum(g.mul(hidden, weights), [1]);
  switch (mode) {
    case 'cls_token':
      return firstToken(g, hidden);
    case 'max_tokens': {
      // Padding set to -1e9 first, as Pooling does.
      const masked = g.op('Where', [g.op('Equal', [maskF, g.f32([0])]), g.f32([-1e9]), hidden]);
      return g.op('ReduceMax', [masked], { axes: { ints: [1] }, keepdims: { i: 0 } });
    }
    case 'mean_tokens':
      return g.div(maskedSum(maskF), clamp(g.reduceSum(maskF, [1])));
    case 'mean_sqrt_len_tokens':
      return g.div(maskedSum(maskF), g.op('Sqrt', [clamp(g.reduceSum(maskF, [1]))]));
    case 'weightedmean_tokens': {
      const positions = g.op('Range', [
        g.f32([1]),
        g.add(g.toFloat(g.squeeze(g.dimOf(mask, 1), [0])), g.f32([1])),
        g.f32([1]),
      ]);
      const weights = g.mul(maskF, g.unsqueeze(positions, [0, 2]));
      return g.div(maskedSum(weights), clamp(g.reduceSum(weights, [1])));
    }
    case 'lasttoken': {
      // The last attended position: where the mask first turns 0, less one; the whole length if never.
      const seqLen = g.dimOf(mask, 1);
      const first0 = g.op('ArgMin', [mask], { axis: { i: 1 }, keepdims: { i: 0 } });
      const min = g.op('ReduceMin', [mask], { axes: { ints: [1] }, keepdims: { i: 0 } });
      const last = g.sub(
        g.op('Where', [g.op('Equal', [min, g.i64([0], [])]), first0, seqLen]),
        g.i64([1], []),
      );
      const index = g.op('Max', [last, g.i64([0], [])]);
      const picked = g.op(
        'GatherElements',
        [
          g.mul(hidden, maskF),
          g.op('Expand', [g.unsqueeze(index, [1, 2]), g.op('Shape', [g.slice(hidden, 1, 0, 1)])]),
        ],
        { axis: { i: 1 } },
      );
      return g.squeeze(picked, [1]);
    }
  }
}

/** The sentence embedding [b, out] of the pipeline over the Transformer's hidden states. */
export function sentenceEmbedding(
  g: Graph,
  dir: string,
  listing: readonly string[],
  pipeline: SentencePipeline,
  hidden: string,
  hiddenWidth: number,
  mask: string,
): { value: string; width: number } {
  const maskF = g.unsqueeze(g.toFloat(mask), [2]);
  const pooled = pipeline.pooling.map((mode) => pool(g, mode, hidden, maskF, mask));
  let x = pooled.length === 1 ? (pooled[0] as string) : g.concat(pooled, 1);
  let width = hiddenWidth * pooled.length;
  for (const dense of pipeline.dense) {
    const found = checkpointFiles(listing, dense.path);
    if (!found) throw new ServeError('bad_checkpoint', `${dense.path} has no weights of its Dense layer`, {});
    const checkpoint = openCheckpoint(dir, found);
    try {
      const read = (name: string, shape: number[]): Float32Array => {
        const entry = checkpoint.tensors.get(name);
        if (!entry || entry.shape.join() !== shape.join()) {
          throw new ServeError(
            'bad_checkpoint',
            `${dense.path}: ${name} is missing or not [${shape.join(', ')}]`,
            {
              tensor: name,
            },
          );
        }
        return checkpoint.readFloat32(name);
      };
      const { inFeatures: n, outFeatures: m } = dense;
      if (n !== width) {
        throw new ServeError(
          'bad_checkpoint',
          `${dense.path} takes ${n} features, the stage before gives ${width}`,
          {
            module: dense.path,
          },
        );
      }
      const weight = transpose(read('linear.weight', [m, n]), m, n);
      x = g.matmul(x, g.weight(`${dense.path}linear.weight`, DType.float, [n, m], weight));
      if (dense.bias)
        x = g.add(x, g.weight(`${dense.path}linear.bias`, DType.float, [m], read('linear.bias', [m])));
      x = denseActivation(g, x, dense.activation);
      width = m;
    } finally {
      checkpoint.close();
    }
  }
  if (pipeline.normalize) {
    const norm = g.op('ReduceL2', [x], { axes: { ints: [1] }, keepdims: { i: 1 } });
    x = g.div(x, g.op('Max', [norm, g.f32([1e-12])]));
  }
  return { value: x, width };
}
