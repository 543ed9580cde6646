// The contract every task file fulfils. A task's schemas are the single source of truth for request
// validation, TypeScript types and OpenAPI; its `run` executes inside an engine worker.
//
// Task files import only *types* from @huggingface/transformers: the main thread imports them for
// their schemas and must not load ONNX Runtime.
import type * as Transformers from '@huggingface/transformers';
import type { PreTrainedModel, PreTrainedTokenizer } from '@huggingface/transformers';
import type { Static, TSchema } from 'typebox';

export const TASK_NAMES = [
  'text-classification',
  'token-classification',
  'question-answering',
  'zero-shot-classification',
  'fill-mask',
  'feature-extraction',
  'sentence-similarity',
  'text-ranking',
  'summarization',
  'translation',
  'text2text-generation',
  'text-generation',
] as const;

export type TaskName = (typeof TASK_NAMES)[number];

/** The subset of a model's config.json that tasks read. */
export interface ModelConfig {
  model_type?: string;
  architectures?: string[];
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  problem_type?: string;
  is_encoder_decoder?: boolean;
  max_position_embeddings?: number;
  n_positions?: number;
  [key: string]: unknown;
}

/** A generated token, as it is streamed. */
export interface StreamedToken {
  id: number;
  /** The text this token adds (may be empty while a multi-byte character is incomplete). */
  text: string;
  special: boolean;
}

/** How a running task learns that its answer is no longer wanted, and streams tokens if asked. */
export interface TokenStream {
  /** Present when the request streams. */
  token?: (token: StreamedToken) => void;
  cancelled(): boolean;
}

/** The @huggingface/transformers module, handed to tasks by the worker that loaded it. */
export type Runtime = typeof Transformers;

/**
 * What a run read and generated, one token count per row in the order the task tokenized or generated
 * them (a row is an input, or an input with one of its pairs), and the time it spent tokenizing.
 */
export interface RunMeter {
  input: number[];
  output: number[];
  tokenizeMs: number;
  /** The whole run, tokenizing included (set by the worker). */
  runMs: number;
}

/** A loaded model as a task's `run` sees it, inside a worker. */
export interface ModelContext {
  runtime: Runtime;
  tokenizer: PreTrainedTokenizer;
  model: PreTrainedModel;
  config: ModelConfig;
  /** The longest input, in tokens, the model takes. */
  maxTokens: number;
  /** Labels in id order, for classifiers. */
  labels: string[];
  /** The run in progress (a worker runs one at a time): encode() and generate() add to it. */
  meter: RunMeter;
}

export interface TaskDefinition<
  I extends TSchema = TSchema,
  P extends TSchema = TSchema,
  O extends TSchema = TSchema,
> {
  /** A built-in TaskName, or a custom handler's own name. */
  name: string;
  /** One line for docs and OpenAPI. */
  summary: string;
  /** Which @huggingface/transformers model class family loads it (AutoModelFor...). */
  modelClass: ModelClass;
  /** Schema of the request's `inputs`. */
  inputs: I;
  /** Schema of the request's `parameters` (closed: unknown parameters are errors). */
  parameters: P;
  /** Schema of the answer. */
  output: O;
  /** A request that works on the task's demo model; also used to warm a model up. */
  example: { inputs: Static<I>; parameters?: Static<P> };
  /** The request that warms a loaded model up; the example when absent. */
  warmup?: (model: ModelContext) => { inputs: Static<I>; parameters?: Static<P> };
  /** Whether `parameters.split: "sentence"` applies (the inputs are plain text). */
  splittable: boolean;
  /** Whether `"stream": true` answers token by token (Server-Sent Events). */
  streams?: boolean;
  /** Whether results carry `start`/`end` character offsets into their input. */
  offsets?: boolean;
  /**
   * Whether requests may be merged into one batch: run() on an array of inputs answers one result per
   * input, and a single input's answer is that result wrapped in an array ('wrapped', as
   * text-classification's [[...]]) or the result itself ('unwrapped'). Absent: each request runs alone.
   */
  batching?: 'wrapped' | 'unwrapped';
  /** Whether this request's inputs may be batched (absent: always, when the task batches). */
  batchable?(inputs: Static<I>): boolean;
  run(
    model: ModelContext,
    inputs: Static<I>,
    parameters: Static<P>,
    stream?: TokenStream,
  ): Promise<Static<O>>;
}

export type ModelClass =
  | 'sequence-classification'
  | 'token-classification'
  | 'question-answering'
  | 'masked-lm'
  | 'feature-extraction'
  | 'seq2seq-lm'
  | 'causal-lm';

/** Identity helper that keeps each task's schema types precise. */
export const defineTask = <I extends TSchema, P extends TSchema, O extends TSchema>(
  task: TaskDefinition<I, P, O>,
): TaskDefinition<I, P, O> => task;
