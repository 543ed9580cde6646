// Special tokens the way Hugging Face resolves them. transformers.js reads them from
// tokenizer_config.json only; many Hub repos (bert-base-uncased's family among them) name them in
// special_tokens_map.json, or only as tokenizer.json's special added tokens. Without a pad token a
// batch cannot be padded, so the resolution happens once, when the model loads.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { PreTrainedTokenizer } from '@huggingface/transformers';

const NAMES = ['pad', 'mask', 'sep', 'cls', 'unk', 'bos', 'eos'] as const;
type Name = (typeof NAMES)[number];

/** Pad tokens of the common vocabularies, when a tokenizer.json names one only as an added token. */
const PAD_TOKENS = ['[PAD]', '<pad>', '<|pad|>', '<|padding|>'];

/** special_tokens_map.json is a few hundred bytes; a larger one is not read. */
const MAX_MAP_BYTES = 1 << 20;

/** The tokenizer's fields for one special token (transformers.js keeps them as plain properties). */
type Specials = Record<`${Name}_token`, string | null | undefined> &
  Record<`${Name}_token_id`, number | null | undefined> & { padding_side: string };

function readMap(dir: string): Record<string, unknown> {
  const path = join(dir, 'special_tokens_map.json');
  try {
    if (statSync(path).size > MAX_MAP_BYTES) return {};
    const map: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return typeof map === 'object' && map !== null ? (map as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A map entry: "[PAD]" or {"content": "[PAD]", ...}. */
const contentOf = (value: unknown): string | undefined =>
  typeof value === 'string'
    ? value
    : typeof value === 'object' &&
        value !== null &&
        typeof (value as { content?: unknown }).content === 'string'
      ? (value as { content: string }).content
      : undefined;

export interface SpecialTokenOutcome {
  /** Tokens found beyond tokenizer_config.json, by field (e.g. pad_token: "[PAD]"). */
  resolved: Record<string, string>;
  /** What the model cannot do as well as it should (said in the log and in GET /models). */
  warnings: string[];
}

/**
 * Fills the special tokens tokenizer_config.json left out: from special_tokens_map.json, then (pad
 * only) tokenizer.json's special added tokens, then, for decoders, the eos token (padding on the left,
 * as generation needs). A tokenizer left without a pad token pads with its unk token (or id 0) under
 * a zero attention mask, which encoders never attend to, and the model says so.
 */
export function completeSpecialTokens(
  tokenizer: PreTrainedTokenizer,
  dir: string,
  decoder: boolean,
): SpecialTokenOutcome {
  const t = tokenizer as unknown as Specials;
  const resolved: Record<string, string> = {};
  const idOf = (token: string): number | undefined => {
    const [id] = tokenizer.convert_tokens_to_ids([token]) as (number | undefined)[];
    return typeof id === 'number' ? id : undefined;
  };
  const use = (name: Name, token: string): boolean => {
    const id = idOf(token);
    if (id === undefined) return false;
    t[`${name}_token`] = token;
    t[`${name}_token_id`] = id;
    resolved[`${name}_token`] = token;
    return true;
  };
  const missing = (name: Name): boolean => typeof t[`${name}_token_id`] !== 'number';
  const map = readMap(dir);
  for (const name of NAMES) {
    const token = contentOf(map[`${name}_token`]);
    if (missing(name) && token !== undefined) use(name, token);
  }
  if (missing('pad')) {
    const added = new Set(tokenizer.all_special_tokens);
    const found = PAD_TOKENS.find((token) => added.has(token));
    if (found !== undefined) use('pad', found);
  }
  if (missing('pad') && decoder && typeof t.eos_token === 'string' && use('pad', t.eos_token)) {
    if (!('padding_side' in (tokenizer.config as Record<string, unknown>))) t.padding_side = 'left';
  }
  const warnings: string[] = [];
  if (missing('pad')) {
    const fallback = typeof t.unk_token_id === 'number' ? t.unk_token_id : 0;
    t.pad_token_id = fallback;
    warnings.push(
      `the tokenizer names no pad token (tokenizer_config.json, special_tokens_map.json, tokenizer.json); ` +
        `batches are padded with token id ${fallback} under a zero attention mask`,
    );
  }
  return { resolved, warnings };
}
