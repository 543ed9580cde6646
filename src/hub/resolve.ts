// A model source (Hub id[@revision] or local folder) -> the folder transformers.js loads.
import { isServeError, ServeError } from '../errors.ts';
import { cachedModel, type ResolvedModel } from './cache.ts';
import { downloadModel, type DownloadProgress } from './download.ts';
import { DTYPES, folderFiles, isDtype, neededFiles, readConfig, type Dtype } from './files.ts';
import type { HubSettings } from './settings.ts';
import { parseModelSource } from './source.ts';

export interface ResolveOptions {
  dtype: string;
  settings: HubSettings;
  onProgress?: ((event: DownloadProgress) => void) | undefined;
  /** False where sources come from clients (e.g. a management API): local folders are refused. */
  allowLocal?: boolean;
}

/**
 * Makes the model's files for `dtype` available locally and says where: a local folder as it is; a Hub
 * model downloaded into the cache (only the missing files), or taken from the cache when offline or when
 * the Hub cannot be reached, as huggingface_hub does.
 */
export async function resolveModel(source: string, options: ResolveOptions): Promise<ResolvedModel> {
  const { dtype, settings } = options;
  if (!isDtype(dtype)) {
    throw new ServeError('invalid_config', `unknown dtype "${dtype}": use one of ${DTYPES.join(', ')}`, {
      dtype,
      accepted: DTYPES,
    });
  }
  const parsed = parseModelSource(source);
  if (parsed.kind === 'local') {
    if (options.allowLocal === false) {
      throw new ServeError(
        'local_path_not_allowed',
        `model source "${source}" is a local folder, which is not allowed here: give a Hub model id ` +
          `(org/name or org/name@revision)`,
        { source },
      );
    }
    return localModel(source, parsed.path, dtype);
  }

  const { repo, revision } = parsed;
  if (settings.offline) return cachedModel(source, repo, revision, dtype, settings.cacheDir);
  if (settings.token !== undefined && !settings.token.startsWith('hf_')) {
    throw new ServeError(
      'invalid_config',
      'HF_TOKEN is not a Hugging Face access token (those start with "hf_"): create one at ' +
        `${settings.endpoint}/settings/tokens`,
      { repo },
    );
  }
  try {
    return await downloadModel({ source, repo, revision, dtype, settings, onProgress: options.onProgress });
  } catch (error) {
    if (!isServeError(error) || error.code !== 'hub_unreachable') throw error;
    return cachedModel(source, repo, revision, dtype, settings.cacheDir).catch((cacheError: unknown) => {
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
    });
  }
}

async function localModel(source: string, path: string, dtype: Dtype): Promise<ResolvedModel> {
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
  const files = neededFiles(path, await readConfig(path, path), dtype, listing, { source, path });
  return { source, kind: 'local', path, files };
}
