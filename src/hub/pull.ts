// Prefetch models into the cache (e.g. to bake them into an image), one after the other; and export a
// converted checkpoint as an ONNX Hub folder of its own.
import { cp, readdir } from 'node:fs/promises';
import { ServeError } from '../errors.ts';
import type { ResolvedModel } from './cache.ts';
import { resolveModel, type ResolveOptions } from './resolve.ts';

export async function pullModels(
  sources: readonly string[],
  options: ResolveOptions,
): Promise<ResolvedModel[]> {
  const models: ResolvedModel[] = [];
  for (const source of sources) models.push(await resolveModel(source, options));
  return models;
}

/** Converts the model's checkpoint (or takes it from the conversion cache) and copies it to `out`. */
export async function exportConverted(
  source: string,
  out: string,
  options: Omit<ResolveOptions, 'weights'>,
): Promise<ResolvedModel> {
  const existing = await readdir(out).catch(() => []);
  if (existing.length > 0) {
    throw new ServeError('invalid_config', `${out} is not empty: give a new or empty folder to write to`, {
      out,
    });
  }
  const model = await resolveModel(source, { ...options, weights: 'checkpoint' });
  await cp(model.path, out, { recursive: true, dereference: true });
  return model;
}
