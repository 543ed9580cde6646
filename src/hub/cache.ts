// The Hugging Face cache layout, shared with Python's huggingface_hub:
// <cacheDir>/models--org--name/{blobs/<etag>, snapshots/<commit>/<file> -> blob, refs/<revision> = commit}.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { getRepoFolderName } from '@huggingface/hub';
import { isServeError, ServeError } from '../errors.ts';
import { shardFiles } from '../convert/index.ts';
import {
  type FilePlan,
  folderFiles,
  neededFiles,
  readConfig,
  selectFiles,
  type Dtype,
  type WeightsMode,
} from './files.ts';

export interface ResolvedModel {
  /** The source as given. */
  source: string;
  kind: 'local' | 'hub';
  /** The folder transformers.js loads: the local folder, or the snapshot in the cache. */
  path: string;
  repo?: string;
  revision?: string;
  commit?: string;
  /** The files the model loads, relative to `path`. */
  files: string[];
  /** ONNX weights as the repo has them, or its checkpoint (converted by convertedModel). */
  weights: 'onnx' | 'checkpoint';
  /** For a converted model: what the conversion did, and whether it came from the cache. */
  conversion?: ConversionInfo;
}

export interface ConversionInfo {
  /** The conversion's own time (when it ran, not when reused). */
  ms: number;
  cached: boolean;
  modelType: string;
  checkpoint: 'safetensors' | 'pytorch';
  tokenizer: 'copied' | 'converted';
  /** The source folder the conversion read (the snapshot or the local folder). */
  from: string;
}

const repoFolder = (cacheDir: string, repo: string): string =>
  join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));

export const snapshotFolder = (cacheDir: string, repo: string, commit: string): string =>
  join(repoFolder(cacheDir, repo), 'snapshots', commit);

const isCommit = (revision: string): boolean => /^[0-9a-f]{40}$/.test(revision);

/** Records which commit a branch or tag named (nested for `refs/pr/1`, as huggingface_hub does). */
export async function writeRef(
  cacheDir: string,
  repo: string,
  revision: string,
  commit: string,
): Promise<void> {
  const ref = join(repoFolder(cacheDir, repo), 'refs', revision);
  await mkdir(dirname(ref), { recursive: true });
  await writeFile(ref, commit);
}

async function readRef(cacheDir: string, repo: string, revision: string): Promise<string | undefined> {
  try {
    return (await readFile(join(repoFolder(cacheDir, repo), 'refs', revision), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/**
 * The model from the cache alone, without the network. Throws `not_cached` naming what is missing (the
 * message tells offline users what to do; callers with another situation reword it).
 */
export async function cachedModel(
  source: string,
  repo: string,
  revision: string,
  dtype: Dtype,
  cacheDir: string,
  weights: WeightsMode,
): Promise<ResolvedModel> {
  const label = `${repo}@${revision}`;
  const notCached = (facts: { commit?: string; missing?: string[] }): ServeError =>
    new ServeError(
      'not_cached',
      (facts.missing
        ? `${label} is only partly in the cache ${cacheDir} (missing ${facts.missing.join(', ')})`
        : `${label} is not in the cache ${cacheDir}`) +
        ` and HF_HUB_OFFLINE is set: run \`hubserve pull ${source}\` while online, with the same ` +
        `HF_HUB_CACHE, or unset HF_HUB_OFFLINE`,
      { repo, revision, cacheDir, ...facts },
    );

  const commit = isCommit(revision) ? revision : await readRef(cacheDir, repo, revision);
  if (commit === undefined) throw notCached({});
  const path = snapshotFolder(cacheDir, repo, commit);
  const listing = await folderFiles(path);
  if (!listing.includes('config.json'))
    throw notCached(listing.length > 0 ? { commit, missing: ['config.json'] } : {});
  let plan: FilePlan;
  try {
    plan = neededFiles(label, await readConfig(path, label), dtype, listing, {}, weights);
  } catch (error) {
    // A partial download: say which of the ONNX export's files are missing.
    const incomplete =
      isServeError(error) && (error.code === 'no_onnx_weights' || 'missing' in error.details);
    if (!incomplete) throw error;
    throw notCached({ commit, missing: selectFiles(await readConfig(path, label), dtype, listing).missing });
  }
  const { checkpoint } = plan;
  const shards = checkpoint && listing.includes(checkpoint.file) ? shardFiles(path, checkpoint) : [];
  const missing = [...plan.files, ...shards].filter((f) => !listing.includes(f));
  if (missing.length > 0) throw notCached({ commit, missing });
  const files = [...new Set([...plan.files, ...shards])].sort();
  return { source, kind: 'hub', path, repo, revision, commit, files, weights: plan.weights };
}
