// Converted models, cached outside the Hugging Face cache (which stays as huggingface_hub writes it):
// <convertedDir>/<models--org--name>/<commit>/<dtype>-c<converter>/ for Hub snapshots, and
// <convertedDir>/local/<digest of the source files>/... for local folders. A conversion runs once per
// key (in a worker thread), is written to a temporary folder and renamed into place, so that a
// reader never sees half of one; the next start finds it and loads it as it would an ONNX repo.
import { createHash } from 'node:crypto';
import { mkdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { getRepoFolderName } from '@huggingface/hub';
import {
  type ConversionManifest,
  CONVERTER_VERSION,
  type ConvertibleDtype,
  MANIFEST,
  runConversion,
} from '../convert/index.ts';
import type { ConversionInfo, ResolvedModel } from './cache.ts';
import { folderFiles } from './files.ts';

export interface ConvertOptions {
  dtype: ConvertibleDtype;
  /** Root of the conversion cache (HubSettings.convertedDir). */
  convertedDir: string;
  /** Hears a conversion's progress (nothing when one is reused from the cache). */
  onConvert?: ((event: ConversionProgress) => void) | undefined;
}

/** A conversion's progress, in the weight bytes of the graph written. */
export type ConversionProgress =
  | { type: 'start'; source: string }
  | { type: 'bytes'; source: string; done: number; total: number }
  | { type: 'done'; source: string; ms: number };

/** Conversions under way in this process, by cache folder: concurrent loads share one. */
const converting = new Map<string, Promise<ConversionManifest>>();

async function cacheFolder(model: ResolvedModel, options: ConvertOptions): Promise<string> {
  const leaf = `${options.dtype}-c${CONVERTER_VERSION}`;
  if (model.kind === 'hub' && model.repo && model.commit) {
    return join(
      options.convertedDir,
      getRepoFolderName({ type: 'model', name: model.repo }),
      model.commit,
      leaf,
    );
  }
  // A local folder changes in place: its key is what the conversion reads, by name, size and time.
  const hash = createHash('sha256').update(await realpath(model.path));
  for (const file of model.files) {
    const st = await stat(join(model.path, file));
    hash.update(`\0${file}\0${st.size}\0${st.mtimeMs}`);
  }
  return join(options.convertedDir, 'local', hash.digest('hex').slice(0, 32), leaf);
}

async function readManifest(folder: string): Promise<ConversionManifest | undefined> {
  try {
    const manifest = JSON.parse(await readFile(join(folder, MANIFEST), 'utf8')) as ConversionManifest;
    return manifest.converter === CONVERTER_VERSION ? manifest : undefined;
  } catch {
    return undefined;
  }
}

async function convertInto(
  model: ResolvedModel,
  folder: string,
  options: ConvertOptions,
): Promise<ConversionManifest> {
  const { source } = model;
  options.onConvert?.({ type: 'start', source });
  const staging = `${folder}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(staging, { recursive: true });
  try {
    const manifest = await runConversion(
      { sourceDir: model.path, listing: model.files, outDir: staging, dtype: options.dtype },
      (done, total) => options.onConvert?.({ type: 'bytes', source, done, total }),
    );
    options.onConvert?.({ type: 'done', source, ms: manifest.ms });
    try {
      await rename(staging, folder);
    } catch {
      // Another process renamed its conversion into place first: use that one. Else the folder is
      // a stale one (an older converter's, or a damaged one): replace it.
      if (await readManifest(folder)) return manifest;
      await rm(folder, { recursive: true, force: true });
      await rename(staging, folder);
    }
    return manifest;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The model as its converted ONNX folder: from the cache, or converted now. */
export async function convertedModel(model: ResolvedModel, options: ConvertOptions): Promise<ResolvedModel> {
  const folder = await cacheFolder(model, options);
  let manifest = await readManifest(folder);
  const cached = manifest !== undefined;
  if (!manifest) {
    let running = converting.get(folder);
    if (!running) {
      running = convertInto(model, folder, options);
      converting.set(folder, running);
      void running.finally(() => converting.delete(folder)).catch(() => undefined);
    }
    manifest = await running;
  }
  const conversion: ConversionInfo = {
    ms: manifest.ms,
    cached,
    modelType: manifest.modelType,
    checkpoint: manifest.checkpoint.format,
    tokenizer: manifest.tokenizer,
    from: model.path,
  };
  return { ...model, path: folder, files: await folderFiles(folder), weights: 'checkpoint', conversion };
}
