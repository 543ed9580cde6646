// What an encoder architecture tells the converter: the config it reads, the base model's prefix, the
// inputs Optimum's export of it takes, its body, and the heads it has.
import { ServeError } from '../../errors.ts';
import type { Builder } from '../layers.ts';

/** transformers' head classes, by the task they serve (the model classes of src/tasks). */
export const HEADS = [
  'sequence-classification',
  'token-classification',
  'question-answering',
  'masked-lm',
  'feature-extraction',
] as const;
export type Head = (typeof HEADS)[number];

export type Config = Record<string, unknown>;

export interface EncoderInputs {
  ids: string;
  /** attention_mask, int64 [b, s]. */
  mask: string;
  /** token_type_ids, int64 [b, s], for architectures whose export takes them. */
  tokenTypes?: string;
}

/** The graph outputs of a head, named as Optimum names them, each [values, dims]. */
export type HeadOutputs = Record<string, { value: string; dims: readonly (number | string)[] }>;

export interface Architecture {
  /** config.json `model_type` values built by this architecture. */
  modelTypes: readonly string[];
  /** `base_model_prefix` of the transformers class: head checkpoints store the body under it. */
  basePrefix: string;
  /** Whether Optimum's export (and so transformers.js) feeds token_type_ids. */
  tokenTypes: boolean;
  /** Body parts a head may leave unused without the checkpoint being wrong (BERT's pooler). */
  optionalBody?: readonly RegExp[];
  /** The width of the body's hidden states. */
  hiddenSize(config: Config): number;
  /** Hidden states [b, s, hidden] of the body. */
  body(b: Builder, config: Config, inputs: EncoderInputs): string;
  /** The head on the body's hidden states, or undefined when the architecture has no such head. */
  head(b: Builder, config: Config, head: Head, hidden: string): HeadOutputs | undefined;
}

/** A config.json number, or `fallback`; a wrong type is the config's fault, said by name. */
export function num(config: Config, key: string, fallback?: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ServeError('invalid_config', `config.json has no numeric "${key}"`, { key });
  }
  return value;
}

export function str(config: Config, key: string, fallback?: string): string {
  const value = config[key] ?? fallback;
  if (typeof value !== 'string')
    throw new ServeError('invalid_config', `config.json has no "${key}" string`, { key });
  return value;
}

/** The number of labels as transformers counts them: id2label's size, else num_labels, else 2. */
export function labelCount(config: Config): number {
  const id2label = config['id2label'];
  if (id2label && typeof id2label === 'object') return Object.keys(id2label).length;
  return num(config, 'num_labels', 2);
}
