// Model sources: Hub id[@revision] or local folder -> a folder transformers.js loads; cache, offline, pull.
export type { ConversionInfo, ResolvedModel } from './cache.ts';
export type { DownloadProgress } from './download.ts';
export { DTYPES, isDtype, type Dtype, WEIGHTS_MODES, type WeightsMode } from './files.ts';
export type { ConversionProgress } from './converted.ts';
export { conversionReporter, progressReporter } from './progress.ts';
export { exportConverted, pullModels } from './pull.ts';
export { resolveModel, type ResolveOptions } from './resolve.ts';
export { hubSettingsFromEnv, type HubSettings } from './settings.ts';
export { parseModelSource, type ModelSource } from './source.ts';
