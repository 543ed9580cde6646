// Pieces the task files share: schemas of common parameters, token budgets, and small numerics.
import type { Tensor } from '@huggingface/transformers';
import Type from 'typebox';
import { ServeError } from '../errors.ts';
import type { ModelContext } from './types.ts';

export const Text = Type.String({ minLength: 1, maxLength: 100_000, description: 'Input text' });
export const Texts = Type.Union([Text, Type.Array(Text, { minItems: 1, maxItems: 256 })]);

export const truncateParameter = Type.Boolean({
  description: 'Cut inputs longer than the model takes instead of answering 422 input_too_long.',
});

/** Parameters every text task accepts besides its own. */
export const textParameters = {
  truncate: Type.Optional(truncateParameter),
  split: Type.Optional(
    Type.Literal('sentence', {
      description: 'Analyse each input sentence by sentence; one result per sentence with its offsets.',
    }),
  ),
  language: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$',
      description:
        'Locale of the sentence rules (default en): abbreviations, titles, initials, ordinals and months ' +
        'for de, en, es, fr, it and nl; Unicode rules (Intl.Segmenter) elsewhere.',
    }),
  ),
};

export const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

function tooLong(model: ModelContext, tokens: number): ServeError {
  return new ServeError(
    'input_too_long',
    `input has ${tokens} tokens; the model takes at most ${model.maxTokens}. Shorten it, or send "truncate": true.`,
    { tokens, max_tokens: model.maxTokens },
  );
}

/**
 * Tokenizes inputs for the model, once: cut to what the model takes when the request says truncate,
 * else refused (422 input_too_long, with the token count) when one is longer.
 */
export function encode(
  model: ModelContext,
  texts: string | string[],
  options: { truncate: boolean | undefined; pairs?: string[] },
): Record<string, Tensor> {
  const started = performance.now();
  const pairs = options.pairs ? { text_pair: options.pairs } : {};
  let encoded: Record<string, Tensor>;
  try {
    encoded = model.tokenizer(texts, {
      ...pairs,
      padding: true,
      truncation: options.truncate === true,
      ...(options.truncate ? { max_length: model.maxTokens } : {}),
    }) as Record<string, Tensor>;
  } catch (error) {
    // transformers.js pads a batch only up to the tokenizer's model_max_length: when that fails
    // without truncation, an input may be longer than that. Count it (rarely: only on this path);
    // anything else is the tokenizer's failure, never reported as a length.
    if (!options.truncate) {
      const longest = countLongest(model, texts, pairs);
      if (longest !== undefined && longest > model.maxTokens) throw tooLong(model, longest);
    }
    throw new ServeError(
      'tokenizer_failed',
      `the tokenizer failed on this input: ${error instanceof Error ? error.message : String(error)}`,
      {},
      { cause: error },
    );
  }
  const lengths = rowLengths(encoded.attention_mask as Tensor);
  const longest = Math.max(0, ...lengths);
  if (!options.truncate && longest > model.maxTokens) throw tooLong(model, longest);
  model.meter.input.push(...lengths);
  model.meter.tokenizeMs += performance.now() - started;
  return encoded;
}

/** The longest input's token count, unpadded; undefined when the tokenizer fails on it too. */
function countLongest(
  model: ModelContext,
  texts: string | string[],
  pairs: { text_pair?: string[] },
): number | undefined {
  try {
    const ids = model.tokenizer(texts, { ...pairs, return_tensor: false }).input_ids as unknown as
      number[] | number[][];
    const rows = Array.isArray(ids[0]) ? (ids as number[][]) : [ids as number[]];
    return Math.max(...rows.map((row) => row.length));
  } catch {
    return undefined;
  }
}

/** Tokens in each row of a padded batch, from its attention mask. */
export function rowLengths(mask: Tensor): number[] {
  const width = mask.dims.at(-1) ?? 0;
  const data = mask.data as BigInt64Array;
  const lengths: number[] = [];
  for (let row = 0; row < data.length; row += width) {
    let length = 0;
    for (let k = row; k < row + width; k++) length += Number(data[k]);
    lengths.push(length);
  }
  return lengths;
}

export function softmax(values: readonly number[]): number[] {
  // A loop, not Math.max(...values): vocabularies of 250k tokens overflow the call stack.
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Indices of the k largest values, largest first, in one pass (vocabularies are large, k small). */
export function topK(values: readonly number[], k: number): number[] {
  const best: number[] = [];
  values.forEach((v, i) => {
    if (best.length === k && v <= (values[best[k - 1] as number] ?? -Infinity)) return;
    let at = best.length;
    while (at > 0 && v > (values[best[at - 1] as number] ?? -Infinity)) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  });
  return best;
}

/** Inputs per model call: bounds the padded tensor (and memory) whatever a request holds. */
export const CHUNK = 32;

/**
 * Runs `fn` on consecutive chunks of `items` and concatenates the results, in order; stops between
 * chunks once the request is cancelled (its deadline passed or its client left).
 */
export async function inChunks<T, R>(
  items: readonly T[],
  fn: (chunk: T[], offset: number) => Promise<R[]>,
  cancelled: () => boolean = () => false,
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += CHUNK) {
    if (cancelled()) throw new ServeError('invalid_request', 'the request was cancelled');
    out.push(...(await fn(items.slice(i, i + CHUNK), i)));
  }
  return out;
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Rows of a [batch, n] or [batch, seq, n] float tensor as nested arrays. */
export const rows = <T = number[]>(tensor: Tensor): T[] => tensor.tolist() as T[];

export const round = (x: number): number => Math.round(x * 1e6) / 1e6;

export { type Sentence, splitSentences } from './sentences.ts';
