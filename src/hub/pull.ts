// Prefetch models into the cache (e.g. to bake them into an image), one after the other.
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
