// What every tokenizer family shares: reading the repo's files with a stable error, special tokens
// resolved as transformers' from_pretrained does, and the added-token list tokenizer.json carries.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServeError } from '../../errors.ts';

/** The special-token attributes of a transformers tokenizer (SPECIAL_TOKENS_ATTRIBUTES), in its order. */
export const SPECIAL_TOKEN_NAMES = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;
export type SpecialTokenName = (typeof SPECIAL_TOKEN_NAMES)[number];

/** One entry of tokenizer.json's `added_tokens` (and of tokenizer_config.json's `added_tokens_decoder`). */
export interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** A token's flags before it has an id: what a special-token value or a class default says. */
export type TokenFlags = Omit<AddedToken, 'id'>;

export interface SpecialDefault {
  content: string;
  /** RoBERTa-style `<mask>` swallows the space before it (AddedToken(lstrip=True) in the class). */
  lstrip?: boolean;
}

/** A tokenizer class's constructor defaults for its special tokens (absent: the class has none). */
export type SpecialDefaults = Partial<Record<SpecialTokenName, SpecialDefault>> & {
  additional_special_tokens?: string[];
};

/** fairseq's specials, which RoBERTa, XLM-RoBERTa and CamemBERT kept (<mask> eats the space before it). */
export const FAIRSEQ_SPECIALS: SpecialDefaults = {
  bos_token: { content: '<s>' },
  eos_token: { content: '</s>' },
  sep_token: { content: '</s>' },
  cls_token: { content: '<s>' },
  unk_token: { content: '<unk>' },
  pad_token: { content: '<pad>' },
  mask_token: { content: '<mask>', lstrip: true },
};

/** The repo's tokenizer files as read, before a family looks at its own vocabulary files. */
export interface TokenizerSource {
  dir: string;
  listing: ReadonlySet<string>;
  /** tokenizer_config.json, or {} when the repo has none. */
  config: Record<string, unknown>;
  /** tokenizer_class without its Fast suffix. */
  tokenizerClass: string;
}

export interface ResolvedSpecials {
  tokens: Partial<Record<SpecialTokenName, TokenFlags>>;
  additional: TokenFlags[];
}

export const badTokenizer = (message: string, details: Record<string, unknown> = {}): ServeError =>
  new ServeError('bad_tokenizer', message, details);

export function readBytes(source: TokenizerSource, file: string): Buffer {
  if (!source.listing.has(file)) {
    throw badTokenizer(`the repo has no ${file}, which a ${source.tokenizerClass} needs`, { file });
  }
  try {
    return readFileSync(join(source.dir, file));
  } catch (error) {
    throw badTokenizer(`${file} cannot be read (${(error as Error).message})`, { file });
  }
}

export const readText = (source: TokenizerSource, file: string): string =>
  readBytes(source, file).toString('utf8');

export function readJsonObject(dir: string, file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  } catch (error) {
    throw badTokenizer(`${file} cannot be read as JSON (${(error as Error).message})`, { file });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badTokenizer(`${file} is not a JSON object`, { file });
  }
  return value as Record<string, unknown>;
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A boolean setting from tokenizer_config.json, or the class default when it is absent or null. */
export function configFlag(config: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = config[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') {
    throw badTokenizer(`tokenizer_config.json has ${key} ${JSON.stringify(value)}, not a boolean`, { key });
  }
  return value;
}

/**
 * A token value as transformers serialises it: a string, or an AddedToken object
 * ({content, lstrip, rstrip, normalized, single_word, special}, maybe with `__type`).
 */
function tokenFlags(
  value: unknown,
  where: string,
  fallback: SpecialDefault | undefined,
  special = true,
): TokenFlags {
  if (typeof value === 'string') {
    return { ...plainFlags(value, special), lstrip: fallback?.lstrip ?? false };
  }
  if (isRecord(value) && typeof value.content === 'string') {
    const flag = (key: string, otherwise: boolean): boolean =>
      typeof value[key] === 'boolean' ? (value[key] as boolean) : otherwise;
    const isSpecial = flag('special', special);
    return {
      content: value.content,
      single_word: flag('single_word', false),
      lstrip: flag('lstrip', false),
      rstrip: flag('rstrip', false),
      // Special tokens are matched on the raw text (AddedToken(special=True) has normalized=False).
      normalized: flag('normalized', !isSpecial),
      special: isSpecial,
    };
  }
  throw badTokenizer(`${where} is neither a string nor an AddedToken object`, { value });
}

export const plainFlags = (content: string, special: boolean): TokenFlags => ({
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: !special,
  special,
});

/**
 * Special tokens as PreTrainedTokenizerBase.from_pretrained resolves them: tokenizer_config.json's
 * values, overridden by special_tokens_map.json's unless tokenizer_config.json has
 * `added_tokens_decoder` (then the map is not read at all), then the class's defaults. A token
 * set to null has none (GPT-2 has no pad token).
 */
export function resolveSpecials(
  config: Record<string, unknown>,
  specialMap: Record<string, unknown> | undefined,
  defaults: SpecialDefaults,
): ResolvedSpecials {
  const values: Record<string, unknown> = { ...config };
  if (specialMap !== undefined && !('added_tokens_decoder' in config)) Object.assign(values, specialMap);
  const tokens: ResolvedSpecials['tokens'] = {};
  for (const name of SPECIAL_TOKEN_NAMES) {
    const fallback = defaults[name];
    if (name in values) {
      if (values[name] !== null) tokens[name] = tokenFlags(values[name], name, fallback);
    } else if (fallback !== undefined) {
      tokens[name] = { ...plainFlags(fallback.content, true), lstrip: fallback.lstrip ?? false };
    }
  }
  const listed = values.additional_special_tokens ?? defaults.additional_special_tokens ?? [];
  if (!Array.isArray(listed)) throw badTokenizer('additional_special_tokens is not a list', {});
  const additional = listed.map((value, i) =>
    tokenFlags(value, `additional_special_tokens[${i}]`, undefined),
  );
  return { tokens, additional };
}

/**
 * The added tokens of the slow tokenizer, with ids: tokenizer_config.json's `added_tokens_decoder`
 * (or, in older repos, added_tokens.json), then every special token, which keeps its vocabulary id
 * when the vocabulary has it and is appended after the last id otherwise (PreTrainedTokenizer._add_tokens).
 */
export function collectAddedTokens(
  source: TokenizerSource,
  specials: ResolvedSpecials,
  vocab: ReadonlyMap<string, number>,
  vocabSize: number,
): AddedToken[] {
  const byContent = new Map<string, AddedToken>();
  const add = (token: AddedToken): void => {
    if (!Number.isInteger(token.id) || token.id < 0) {
      throw badTokenizer(`added token ${JSON.stringify(token.content)} has id ${token.id}`, {});
    }
    byContent.set(token.content, token);
  };
  const specialContents = new Set([
    ...Object.values(specials.tokens).map((t) => t.content),
    ...specials.additional.map((t) => t.content),
  ]);

  const decoder = source.config.added_tokens_decoder;
  if (decoder !== undefined) {
    if (!isRecord(decoder))
      throw badTokenizer('tokenizer_config.json added_tokens_decoder is not an object', {});
    for (const [id, value] of Object.entries(decoder)) {
      add({ id: Number(id), ...tokenFlags(value, `added_tokens_decoder[${id}]`, undefined, false) });
    }
  } else if (source.listing.has('added_tokens.json')) {
    const file = readJsonObject(source.dir, 'added_tokens.json');
    for (const [content, id] of Object.entries(file)) {
      if (typeof id !== 'number') throw badTokenizer(`added_tokens.json gives ${content} no numeric id`, {});
      add({ id, ...plainFlags(content, specialContents.has(content)) });
    }
  }

  let next = Math.max(vocabSize, ...[...byContent.values()].map((t) => t.id + 1));
  for (const flags of [...Object.values(specials.tokens), ...specials.additional]) {
    const known = byContent.get(flags.content);
    if (known !== undefined) {
      // The special flag always wins: special_tokens_map.json names it special even when added_tokens.json did not.
      known.special = true;
      continue;
    }
    add({ id: vocab.get(flags.content) ?? next++, ...flags });
  }
  return [...byContent.values()].sort((a, b) => a.id - b.id);
}

/** The special tokens as tokenizer_config.json strings: transformers.js reads them from there only. */
export function specialsForConfig(specials: ResolvedSpecials): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, flags] of Object.entries(specials.tokens)) out[name] = flags.content;
  if (specials.additional.length > 0)
    out.additional_special_tokens = specials.additional.map((t) => t.content);
  return out;
}

/** The id a token string gets in the converted tokenizer (added tokens first, as the fast tokenizer looks up). */
export function tokenId(
  token: string,
  added: readonly AddedToken[],
  vocab: ReadonlyMap<string, number>,
): number {
  const id = added.find((t) => t.content === token)?.id ?? vocab.get(token);
  if (id === undefined) throw badTokenizer(`the vocabulary has no ${token}`, { token });
  return id;
}

/** tokenizer.json's parts; every one must be present (null for none), or the Tokenizer throws. */
export interface TokenizerParts {
  added_tokens: AddedToken[];
  normalizer: Record<string, unknown> | null;
  pre_tokenizer: Record<string, unknown> | null;
  post_processor: Record<string, unknown> | null;
  decoder: Record<string, unknown> | null;
  model: Record<string, unknown>;
}

export const tokenizerJson = (parts: TokenizerParts): Record<string, unknown> => ({
  version: '1.0',
  truncation: null,
  padding: null,
  ...parts,
});

export type TemplatePiece =
  { SpecialToken: { id: string; type_id: number } } | { Sequence: { id: 'A' | 'B'; type_id: number } };

/**
 * A TemplateProcessing post-processor: `single` and `pair` as lists of special-token strings and
 * 'A'/'B' with their type ids, and the ids of those specials (which transformers.js does not read,
 * but the Rust tokenizers library needs).
 */
export function templateProcessing(
  single: readonly (readonly [string, number])[],
  pair: readonly (readonly [string, number])[],
  ids: (token: string) => number,
): Record<string, unknown> {
  const piece = ([id, type_id]: readonly [string, number]): TemplatePiece =>
    id === 'A' || id === 'B' ? { Sequence: { id, type_id } } : { SpecialToken: { id, type_id } };
  const specials = [
    ...new Set([...single, ...pair].map(([id]) => id).filter((id) => id !== 'A' && id !== 'B')),
  ];
  return {
    type: 'TemplateProcessing',
    single: single.map(piece),
    pair: pair.map(piece),
    special_tokens: Object.fromEntries(specials.map((id) => [id, { id, ids: [ids(id)], tokens: [id] }])),
  };
}

/**
 * `cls A sep` for one text and, for two, BERT's `cls A sep B sep` (B and its sep with type id 1)
 * or RoBERTa's `cls A sep sep B sep` (all type 0, as every fairseq-style slow tokenizer gives).
 */
export function clsSepTemplate(
  cls: string,
  sep: string,
  pair: 'bert' | 'double-sep',
  ids: (token: string) => number,
): Record<string, unknown> {
  const single: [string, number][] = [
    [cls, 0],
    ['A', 0],
    [sep, 0],
  ];
  const second: [string, number][] =
    pair === 'bert'
      ? [
          ['B', 1],
          [sep, 1],
        ]
      : [
          [sep, 0],
          ['B', 0],
          [sep, 0],
        ];
  return templateProcessing(single, [...single, ...second], ids);
}

/** The special token a family's post-processor needs, or a bad_tokenizer naming it. */
export function requireSpecial(
  specials: ResolvedSpecials,
  name: SpecialTokenName,
  className: string,
): string {
  const token = specials.tokens[name];
  if (token === undefined)
    throw badTokenizer(`a ${className} needs a ${name}, and this one has none`, { name });
  return token.content;
}

export interface FamilyResult {
  tokenizer: Record<string, unknown>;
  /** Settings of the class that tokenizer_config.json should state (do_lower_case, add_prefix_space, ...). */
  config: Record<string, unknown>;
}

/** One tokenizer class: its special-token defaults and how to build its tokenizer.json. */
export interface Family {
  defaults: SpecialDefaults;
  build(source: TokenizerSource, specials: ResolvedSpecials): FamilyResult;
}

/** vocab.json: token -> id, every id a non-negative integer. */
export function readVocab(source: TokenizerSource): Map<string, number> {
  const text = readText(source, 'vocab.json');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badTokenizer(`vocab.json cannot be read as JSON (${(error as Error).message})`, {
      file: 'vocab.json',
    });
  }
  if (!isRecord(value)) throw badTokenizer('vocab.json is not a JSON object', { file: 'vocab.json' });
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(value)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw badTokenizer(`vocab.json gives ${JSON.stringify(token)} the id ${JSON.stringify(id)}`, {
        file: 'vocab.json',
      });
    }
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw badTokenizer('vocab.json is empty', { file: 'vocab.json' });
  return vocab;
}
