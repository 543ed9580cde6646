// A model source (Hub id[@revision] or local folder) -> the folder transformers.js loads.
import { realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import { isServeError, ServeError } from '../errors.ts';
import { cachedModel, type ResolvedModel } from './cache.ts';
import { downloadModel, type DownloadProgress } from './download.ts';
import { type ConvertibleDtype, shardFiles } from '../convert/index.ts';
import { type ConversionProgress, convertedModel } from './converted.ts';
import {
  DTYPES,
  folderFiles,
  isDtype,
  neededFiles,
  readConfig,
  type Dtype,
  type WeightsMode,
} from './files.ts';
import type { HubSettings } from './settings.ts';
import { parseModelSource } from './source.ts';

export interface ResolveOptions {
  dtype: string;
  /** ONNX weights, the checkpoint converted, or (auto, the default) ONNX where the repo has it. */
  weights?: WeightsMode | undefined;
  /** Hears a conversion's progress (a converted model found in the cache calls nothing). */
  onConvert?: ((event: ConversionProgress) => void) | undefined;
  settings: HubSettings;
  onProgress?: ((event: DownloadProgress) => void) | undefined;
  /**
   * Folders local model sources must be inside (symbolic links and `..` resolved first); none: no
   * local sources at all. Absent: any folder (the operator's own config).
   */
  localRoots?: readonly string[] | undefined;
}

/**
 * Makes the model's files for `dtype` available locally and says where: a local folder as it is; a Hub
 * model downloaded into the cache (only the missing files), or taken from the cache when offline or when
 * the Hub cannot be reached, as huggingface_hub does.
 */
export async function resolveModel(source: string, options: ResolveOptions): Promise<ResolvedModel> {
  const model = await resolveFiles(source, options);
  if (model.weights === 'onnx') return model;
  return convertedModel(model, {
    dtype: options.dtype as ConvertibleDtype, // neededFiles refused the others
    convertedDir: options.settings.convertedDir,
    onConvert: options.onConvert,
  });
}

async function resolveFiles(source: string, options: ResolveOptions): Promise<ResolvedModel> {
  const { dtype, settings } = options;
  const weights = options.weights ?? 'auto';
  if (!isDtype(dtype)) {
    throw new ServeError('invalid_config', `unknown dtype "${dtype}": use one of ${DTYPES.join(', ')}`, {
      dtype,
      accepted: DTYPES,
    });
  }
  const parsed = parseModelSource(source);
  if (parsed.kind === 'local') {
    if (options.localRoots && !(await isInside(parsed.path, options.localRoots))) {
      // The same answer whether the folder exists or not: nothing is learnt about the file system.
      const where = options.localRoots.length
        ? `local folders must be inside ${options.localRoots.join(', ')}`
        : 'local folders are not allowed here';
      throw new ServeError(
        'local_path_not_allowed',
        `model source "${source}": ${where}; or give a Hub model id (org/name or org/name@revision)`,
        { source },
      );
    }
    return localModel(source, parsed.path, dtype, weights);
  }

  const { repo, revision } = parsed;
  if (settings.offline) return cachedModel(source, repo, revision, dtype, settings.cacheDir, weights);
  if (settings.token !== undefined && !settings.token.startsWith('hf_')) {
    throw new ServeError(
      'invalid_config',
      'HF_TOKEN is not a Hugging Face access token (those start with "hf_"): create one at ' +
        `${settings.endpoint}/settings/tokens`,
      { repo },
    );
  }
  try {
    return await downloadModel({
      source,
      repo,
      revision,
      dtype,
      weights,
      settings,
      onProgress: options.onProgress,
    });
  } catch (error) {
    if (!isServeError(error) || error.code !== 'hub_unreachable') throw error;
    return cachedModel(source, repo, revision, dtype, settings.cacheDir, weights).catch(
      (cacheError: unknown) => {
        if (!isServeError(cacheError) || cacheError.code !== 'not_cached') throw cacheError;
        throw new ServeError(
          'hub_unreachable',
          `${error.message}; and ${repo}@${revision} is not in the cache ${settings.cacheDir}` +
            (Array.isArray(cacheError.details['missing'])
              ? ` (missing ${cacheError.details['missing'].join(', ')})`
              : '') +
            `: check the network, a proxy or HF_ENDPOINT; or run \`hubserve pull ${source}\` where the Hub ` +
            `is reachable and use that cache (HF_HUB_CACHE)`,
          { ...cacheError.details, ...error.details },
          { cause: error },
        );
      },
    );
  }
}

/** Whether `path`, links resolved, is one of `roots` or inside one. */
async function isInside(path: string, roots: readonly string[]): Promise<boolean> {
  const real = await realpath(path).catch(() => undefined);
  if (!real) return false;
  for (const root of roots) {
    const base = await realpath(root).catch(() => undefined);
    if (base && (real === base || real.startsWith(base.endsWith(sep) ? base : `${base}${sep}`))) return true;
  }
  return false;
}

async function localModel(
  source: string,
  path: string,
  dtype: Dtype,
  weights: WeightsMode,
): Promise<ResolvedModel> {
  const listing = await folderFiles(path);
  if (listing.length === 0) {
    throw new ServeError(
      'invalid_config',
      `model folder ${path} does not exist or is empty (model source "${source}")`,
      { source, path },
    );
  }
  if (!listing.includes('config.json')) {
    throw new ServeError(
      'invalid_config',
      `model folder ${path} has no config.json: give a folder laid out as a Hub repo (config.json, ` +
        `tokenizer.json, onnx/model.onnx, ...), such as a git clone or a snapshot in the Hugging Face cache`,
      { source, path },
    );
  }
  const details = { source, path };
  const plan = neededFiles(path, await readConfig(path, path), dtype, listing, details, weights);
  const shards = plan.checkpoint ? shardFiles(path, plan.checkpoint) : [];
  const missing = shards.filter((f) => !listing.includes(f));
  if (missing.length > 0) {
    throw new ServeError('bad_checkpoint', `${path}: ${plan.checkpoint?.file} names missing shards`, {
      ...details,
      missing,
    });
  }
  const files = [...new Set([...plan.files, ...shards])].sort();
  return { source, kind: 'local', path, files, weights: plan.weights };
}
