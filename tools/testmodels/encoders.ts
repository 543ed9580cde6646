// What the BERT-style generated models share: one WordPiece vocabulary over the whole lexicon, the
// standard BERT inputs, per-token lookup tables, and the folder around a graph.
import {
  CLAUSE_BREAKS,
  COMMON_WORDS,
  ENTITIES,
  NEGATION_WORDS,
  NEGATIVE_WORDS,
  POSITIVE_WORDS,
  TOPICS,
} from './lexicon.ts';
import type { ModelFolder } from './layout.ts';
import { DType, type Graph } from '../../src/convert/onnx/graph.ts';
import { BERT_SPECIAL, type Vocab, wordPiece } from './tokenizers.ts';

/** Tiny models accept this many tokens, so truncation and long-context windows are cheap to test. */
export const TINY_MAX_LENGTH = 128;

export const bertTokenizer = wordPiece([
  ...COMMON_WORDS,
  ...POSITIVE_WORDS,
  ...NEGATIVE_WORDS,
  ...NEGATION_WORDS,
  ...Object.values(TOPICS).flat(),
  ...Object.values(ENTITIES).flat(),
  ...CLAUSE_BREAKS,
]);

export const BERT_TOKENIZER_CONFIG = {
  tokenizer_class: 'BertTokenizer',
  do_lower_case: true,
  model_max_length: TINY_MAX_LENGTH,
  pad_token: BERT_SPECIAL.pad,
  unk_token: BERT_SPECIAL.unk,
  cls_token: BERT_SPECIAL.cls,
  sep_token: BERT_SPECIAL.sep,
  mask_token: BERT_SPECIAL.mask,
} as const;

/** The inputs a BERT export has, as float masks ready for arithmetic. */
export interface BertInputs {
  ids: string;
  /** attention_mask as float, [batch, seq]. */
  mask: string;
  /** token_type_ids as float (0 first segment, 1 second), [batch, seq]; only when asked for. */
  segment?: string;
}

export const SEQ_DIMS = ['batch_size', 'sequence_length'] as const;

export function bertInputs(g: Graph, withTokenTypes: boolean): BertInputs {
  const ids = g.input('input_ids', DType.int64, SEQ_DIMS);
  const mask = g.toFloat(g.input('attention_mask', DType.int64, SEQ_DIMS));
  if (!withTokenTypes) return { ids, mask };
  return { ids, mask, segment: g.toFloat(g.input('token_type_ids', DType.int64, SEQ_DIMS)) };
}

/**
 * A [vocab, width] float table whose row for each token is `row(token)` (zeros when undefined),
 * added to the graph as a weight.
 */
export function tokenTable(
  g: Graph,
  name: string,
  vocab: Vocab,
  width: number,
  row: (token: string) => readonly number[] | undefined,
): string {
  const data = new Float32Array(vocab.size * width);
  for (const [token, id] of vocab) {
    const values = row(token);
    if (values) data.set(values, id * width);
  }
  return g.weight(name, DType.float, [vocab.size, width], data);
}

/** Sum over the sequence of per-token features [b,s,w], counting only tokens where weights [b,s] is 1. */
export function sumTokens(g: Graph, features: string, weights: string, keepdims = false): string {
  return g.reduceSum(g.mul(features, g.unsqueeze(weights, [2])), [1], keepdims);
}

/** The value of the previous (shift = 1) or next (shift = -1) position along axis 1, zero past the ends. */
export function shifted(g: Graph, x: string, rank: 2 | 3, shift: 1 | -1): string {
  const pads = new Array<number>(2 * rank).fill(0);
  pads[shift === 1 ? 1 : rank + 1] = 1;
  const padded = g.op('Pad', [x, g.i64(pads)]);
  return shift === 1 ? g.slice(padded, 1, 0, -1) : g.slice(padded, 1, 1, Number.MAX_SAFE_INTEGER);
}

/** `1 - 2 * (count mod 2)`: +1 for an even number of negations, -1 for an odd one. */
export function parity(g: Graph, count: string): string {
  const odd = g.op('Mod', [count, g.f32([2])], { fmod: { i: 1 } });
  return g.sub(g.f32([1]), g.mul(odd, g.f32([2])));
}

export function oneHot(index: number, width: number): number[] {
  const row = new Array<number>(width).fill(0);
  row[index] = 1;
  return row;
}

export interface EncoderFolder {
  id: string;
  task: string;
  description: string;
  /** config.json entries besides the BERT basics (id2label, ...). */
  config?: Record<string, unknown>;
  onnx: Record<string, Uint8Array>;
}

export function encoderFolder(spec: EncoderFolder): ModelFolder {
  return {
    id: spec.id,
    task: spec.task,
    description: spec.description,
    config: {
      model_type: 'bert',
      architectures: ['BertModel'],
      vocab_size: bertTokenizer.vocab.size,
      max_position_embeddings: TINY_MAX_LENGTH,
      pad_token_id: bertTokenizer.vocab.get(BERT_SPECIAL.pad),
      ...spec.config,
    },
    tokenizer: bertTokenizer.tokenizerJson,
    tokenizerConfig: BERT_TOKENIZER_CONFIG,
    onnx: spec.onnx,
  };
}

/** id2label / label2id as a Hub config has them. */
export function labelMaps(labels: readonly string[]): Record<string, unknown> {
  return {
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
}
