// The converter: Hub checkpoints (safetensors, pytorch_model.bin) and slow tokenizer files -> the ONNX
// Hub folder transformers.js loads. Conversions run in a worker thread (run.ts).
export { SUPPORTED_MODEL_TYPES } from './architectures/index.ts';
export { type CheckpointFiles, shardFiles } from './checkpoint/index.ts';
export {
  type ConversionManifest,
  type ConversionSources,
  conversionSources,
  CONVERTER_VERSION,
  CONVERTIBLE_DTYPES,
  type ConvertibleDtype,
  graphFile,
  isConvertibleDtype,
  MANIFEST,
} from './convert.ts';
export { runConversion } from './run.ts';
