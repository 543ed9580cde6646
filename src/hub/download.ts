// Downloads the files a model needs (and only those) from the Hub into the Hugging Face cache, with the
// real @huggingface/hub client; Hub failures become ServeErrors that say what to do.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  downloadFileToCacheDir,
  HubApiError,
  InvalidApiResponseFormatError,
  listFiles,
  modelInfo,
} from '@huggingface/hub';
import { ServeError } from '../errors.ts';
import { snapshotFolder, writeRef, type ResolvedModel } from './cache.ts';
import { shardFiles } from '../convert/index.ts';
import { neededFiles, readConfig, type Dtype, type WeightsMode } from './files.ts';
import type { HubSettings } from './settings.ts';

/** Per-file download events, for progress bars. Files already in the cache give none. */
export type DownloadProgress =
  | { type: 'start'; repo: string; file: string; total: number }
  | { type: 'bytes'; repo: string; file: string; done: number; total: number }
  | { type: 'done'; repo: string; file: string; total: number; ms: number }
  | { type: 'failed'; repo: string; file: string };

export interface ModelDownload {
  source: string;
  repo: string;
  revision: string;
  dtype: Dtype;
  weights: WeightsMode;
  settings: HubSettings;
  onProgress?: ((event: DownloadProgress) => void) | undefined;
}

/** Files fetched at once, as huggingface_hub's snapshot_download (8) but gentler on small machines. */
const PARALLEL_DOWNLOADS = 4;

/** The download under way per repo and cache: files of one repo share blobs, so one at a time. */
const downloading = new Map<string, Promise<unknown>>();

export async function downloadModel(d: ModelDownload): Promise<ResolvedModel> {
  const key = `${d.settings.cacheDir}\0${d.repo}`;
  const previous = downloading.get(key) ?? Promise.resolve();
  const current = previous.catch(() => undefined).then(() => downloadOnce(d));
  downloading.set(key, current);
  try {
    return await current;
  } finally {
    if (downloading.get(key) === current) downloading.delete(key);
  }
}

async function downloadOnce(d: ModelDownload): Promise<ResolvedModel> {
  try {
    return await download(d);
  } catch (error) {
    if (!isHubFailure(error)) throw error;
    throw unreachable(d, `talking to ${d.settings.endpoint} failed (${reasonOf(error)})`, {}, error);
  }
}

async function download(d: ModelDownload): Promise<ResolvedModel> {
  const { repo, revision, settings } = d;
  const hub = {
    hubUrl: settings.endpoint,
    ...(settings.token === undefined ? {} : { accessToken: settings.token }),
    fetch: hubFetch(d),
  };
  const repoId = { type: 'model', name: repo } as const; // an object: "datasets/x" is no dataset here
  const { sha: commit } = await modelInfo({ ...hub, name: repo, revision, additionalFields: ['sha'] });
  const sizes = new Map<string, number>();
  for await (const entry of listFiles({ ...hub, repo: repoId, revision: commit, recursive: true })) {
    if (entry.type === 'file') sizes.set(entry.path, entry.lfs?.size ?? entry.size);
  }
  const label = `${repo}@${revision}`;
  const details = { repo, revision, commit };
  if (!sizes.has('config.json')) {
    throw new ServeError(
      'invalid_config',
      `${label} has no config.json, so it is not a transformers model hubserve can serve: use an ONNX ` +
        `export such as the onnx-community/ or Xenova/ repos`,
      details,
    );
  }

  const path = snapshotFolder(settings.cacheDir, repo, commit);
  const fetchFile = async (file: string): Promise<void> => {
    if (await isFile(join(path, file))) return; // cached already
    const total = sizes.get(file) ?? 0;
    const started = performance.now();
    d.onProgress?.({ type: 'start', repo, file, total });
    let done = 0;
    const onBytes = (bytes: number): void => {
      done = Math.min(total, done + bytes);
      d.onProgress?.({ type: 'bytes', repo, file, done, total });
    };
    try {
      await downloadFileToCacheDir({
        ...hub,
        fetch: hubFetch(d, onBytes),
        repo: repoId,
        path: file,
        revision: commit,
        cacheDir: settings.cacheDir,
      });
    } catch (error) {
      d.onProgress?.({ type: 'failed', repo, file }); // so that progress bars stop
      throw error;
    }
    d.onProgress?.({ type: 'done', repo, file, total, ms: performance.now() - started });
  };

  // config.json says which ONNX graphs the model has.
  await fetchFile('config.json');
  const listing = [...sizes.keys()];
  const plan = neededFiles(label, await readConfig(path, label), d.dtype, listing, details, d.weights);
  const fetchAll = async (files: readonly string[]): Promise<void> => {
    const queue = files.filter((f) => f !== 'config.json').values();
    const worker = async (): Promise<void> => {
      for (const file of queue) await fetchFile(file);
    };
    await Promise.all(Array.from({ length: PARALLEL_DOWNLOADS }, worker));
  };
  await fetchAll(plan.files);
  // A sharded checkpoint's index (fetched above) names its shards.
  const shards = plan.checkpoint ? shardFiles(path, plan.checkpoint) : [];
  const absent = shards.filter((f) => !sizes.has(f));
  if (absent.length > 0) {
    throw new ServeError(
      'bad_checkpoint',
      `${label}: ${plan.checkpoint?.file} names shards the repo does not have: ${absent.join(', ')}`,
      { ...details, missing: absent },
    );
  }
  await fetchAll(shards.filter((f) => !plan.files.includes(f)));
  // Named last, so that a branch never points at a half-downloaded snapshot.
  if (revision !== commit) await writeRef(settings.cacheDir, repo, revision, commit);
  const files = [...new Set([...plan.files, ...shards])].sort();
  return { source: d.source, kind: 'hub', path, repo, revision, commit, files, weights: plan.weights };
}

const isFile = (path: string): Promise<boolean> =>
  stat(path).then(
    (st) => st.isFile(),
    () => false,
  );

/**
 * The `fetch` given to @huggingface/hub: turns the Hub's failures into ServeErrors while the response
 * headers (X-Error-Code) are at hand, and counts the bytes of file bodies for progress.
 */
function hubFetch(d: ModelDownload, onBytes?: (bytes: number) => void): typeof fetch {
  return async (input, init) => {
    let res: Response;
    try {
      res = await fetch(input, init);
    } catch (error) {
      throw unreachable(d, `cannot reach ${d.settings.endpoint} (${reasonOf(error)})`, {}, error);
    }
    if (!res.ok) {
      // Other hosts (a CDN, Xet storage) have their own protocols, which the client handles.
      if (new URL(res.url).origin === new URL(d.settings.endpoint).origin) throw await hubError(d, res);
      return res;
    }
    const probe = new Headers(init?.headers).get('range') === 'bytes=0-0'; // a size probe, not the body
    if (!onBytes || !res.body || (init?.method ?? 'GET') !== 'GET' || probe) return res;
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          onBytes(chunk.byteLength);
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

async function hubError(d: ModelDownload, res: Response): Promise<ServeError> {
  const { repo, revision, settings } = d;
  const code = res.headers.get('x-error-code') ?? undefined;
  const says = res.headers.get('x-error-message') ?? `${res.status} ${res.statusText}`;
  await res.body?.cancel();
  const details = { repo, revision, endpoint: settings.endpoint, status: res.status, hubErrorCode: code };
  const access =
    settings.token === undefined
      ? 'set HF_TOKEN to a token of an account with access'
      : 'make sure the HF_TOKEN given belongs to an account with access';
  if (code === 'GatedRepo') {
    return new ServeError(
      'gated_repo',
      `${repo} is a gated model: accept its conditions at ${settings.endpoint}/${repo}, then ${access} ` +
        `(the Hub says: ${says})`,
      details,
    );
  }
  if (code === 'RevisionNotFound') {
    return new ServeError(
      'revision_not_found',
      `${repo} has no revision "${revision}" on ${settings.endpoint}: use an existing branch, tag or ` +
        `commit (the default is main)`,
      details,
    );
  }
  // The Hub answers 401 for repos that do not exist as for private ones, so as not to tell them apart.
  if (code === 'RepoNotFound' || (code === undefined && [401, 403, 404].includes(res.status))) {
    return new ServeError(
      'repo_not_found',
      `model ${repo} was not found on ${settings.endpoint}: check the id (org/name); if the repo is ` +
        `private, ${access} (the Hub says: ${says})`,
      details,
    );
  }
  return unreachable(d, `${settings.endpoint} answered ${res.status} (${says})`, details);
}

function unreachable(
  d: ModelDownload,
  message: string,
  details: Record<string, unknown>,
  cause?: unknown,
): ServeError {
  return new ServeError(
    'hub_unreachable',
    message,
    { repo: d.repo, revision: d.revision, endpoint: d.settings.endpoint, ...details },
    { cause },
  );
}

/** Failures of the Hub or the way to it, as the client surfaces them past hubFetch (e.g. mid-body). */
const isHubFailure = (error: unknown): boolean =>
  typeof error === 'string' ||
  error instanceof HubApiError ||
  error instanceof InvalidApiResponseFormatError ||
  error instanceof SyntaxError ||
  (error instanceof TypeError && error.cause !== undefined);

/** What failed underneath, e.g. "connect ECONNREFUSED 127.0.0.1:443", "getaddrinfo ENOTFOUND host". */
function reasonOf(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) return cause.message || ('code' in cause ? String(cause.code) : cause.name);
  return error instanceof Error ? error.message : String(error);
}
