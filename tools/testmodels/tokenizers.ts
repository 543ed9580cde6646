// tokenizer.json builders in the exact format of Hugging Face `tokenizers`: WordPiece for the BERT-style
// models, byte-level BPE for the GPT-2 and T5-style ones.

/** A vocabulary: token -> id, in id order. */
export type Vocab = Map<string, number>;

export interface BuiltTokenizer {
  vocab: Vocab;
  tokenizerJson: Record<string, unknown>;
}

function addedToken(id: number, content: string): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function vocabFrom(tokens: Iterable<string>): Vocab {
  const vocab: Vocab = new Map();
  for (const token of tokens) if (!vocab.has(token)) vocab.set(token, vocab.size);
  return vocab;
}

export const BERT_SPECIAL = {
  pad: '[PAD]',
  unk: '[UNK]',
  cls: '[CLS]',
  sep: '[SEP]',
  mask: '[MASK]',
} as const;

/**
 * Lower-cased WordPiece over `words`, plus single characters and `##` continuations so any word still
 * tokenizes (into pieces), the way BERT's vocabulary behaves for rare words. `size` trims the vocabulary
 * to that many tokens.
 */
export function wordPiece(words: Iterable<string>, size?: number): BuiltTokenizer {
  const specials = Object.values(BERT_SPECIAL);
  const chars = [...'abcdefghijklmnopqrstuvwxyz0123456789'];
  const punctuation = [...'.,!?;:\'"()-'];
  const vocab = vocabFrom([
    ...specials,
    ...punctuation,
    ...chars,
    ...chars.map((c) => `##${c}`),
    ...[...words].map((w) => w.toLowerCase()),
  ]);
  if (size !== undefined) {
    // Trim to exactly `size` tokens (bert-base has 30522), keeping the first ones.
    if (vocab.size < size) throw new Error(`wordPiece: ${vocab.size} tokens, ${size} asked for`);
    for (const [token, id] of vocab) if (id >= size) vocab.delete(token);
  }
  const seq = (id: 'A' | 'B', typeId: number): unknown => ({ Sequence: { id, type_id: typeId } });
  const special = (id: string, typeId: number): unknown => ({ SpecialToken: { id, type_id: typeId } });
  const { cls, sep } = BERT_SPECIAL;
  return {
    vocab,
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: specials.map((t) => addedToken(vocab.get(t) as number, t)),
      normalizer: {
        type: 'BertNormalizer',
        clean_text: true,
        handle_chinese_chars: true,
        strip_accents: null,
        lowercase: true,
      },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: {
        type: 'TemplateProcessing',
        single: [special(cls, 0), seq('A', 0), special(sep, 0)],
        pair: [special(cls, 0), seq('A', 0), special(sep, 0), seq('B', 1), special(sep, 1)],
        special_tokens: Object.fromEntries(
          [cls, sep].map((t) => [t, { id: t, ids: [vocab.get(t)], tokens: [t] }]),
        ),
      },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: {
        type: 'WordPiece',
        unk_token: BERT_SPECIAL.unk,
        continuing_subword_prefix: '##',
        max_input_chars_per_word: 100,
        vocab: Object.fromEntries(vocab),
      },
    },
  };
}

/** GPT-2's reversible byte -> printable character table (`bytes_to_unicode`). */
export function byteToUnicode(): string[] {
  const table: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table.push(String.fromCharCode(printable ? b : 256 + extra++));
  }
  return table;
}

/** How a word looks in byte-level BPE's alphabet (" time" -> "Ġtime"). */
export function byteLevelForm(text: string): string {
  const table = byteToUnicode();
  return [...Buffer.from(text, 'utf8')].map((b) => table[b]).join('');
}

export interface ByteLevelOptions {
  /** Whole words that must be single tokens, spelled as in text (" time" with its leading space). */
  words: readonly string[];
  /** Special tokens, given the first ids in this order (T5 style: pad 0, eos 1, unk 2). */
  specials: readonly string[];
  /** T5-style: prefix a space to the text so every word starts with "Ġ". GPT-2 does not. */
  addPrefixSpace: boolean;
  /** Template appending `eos` after each sequence (T5 appends "</s>"), or none (GPT-2). */
  appendEos?: string;
}

/**
 * Byte-level BPE: the 256 byte symbols, then for each word the chain of merges that builds it left to
 * right. Space-prefixed words come first so their merges outrank the others, and `ignore_merges`
 * makes whole known words single tokens, as in Llama-3-style tokenizers.
 */
export function byteLevelBpe(options: ByteLevelOptions): BuiltTokenizer {
  const forms = [...new Set(options.words.map(byteLevelForm))].sort(
    (a, b) => Number(b.startsWith('Ġ')) - Number(a.startsWith('Ġ')),
  );
  const merges: [string, string][] = [];
  const merged = new Set<string>();
  for (const form of forms) {
    const chars = [...form];
    let prefix = chars[0] as string;
    for (const ch of chars.slice(1)) {
      const next = prefix + ch;
      if (!merged.has(next)) {
        merged.add(next);
        merges.push([prefix, ch]);
      }
      prefix = next;
    }
  }
  const vocab = vocabFrom([...options.specials, ...byteToUnicode(), ...merged]);
  const byteLevel = {
    type: 'ByteLevel',
    add_prefix_space: options.addPrefixSpace,
    trim_offsets: true,
    use_regex: true,
  };
  const eos = options.appendEos;
  const postProcessor = eos
    ? {
        type: 'TemplateProcessing',
        single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
        pair: [
          { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: eos, type_id: 0 } },
          { Sequence: { id: 'B', type_id: 0 } },
          { SpecialToken: { id: eos, type_id: 0 } },
        ],
        special_tokens: { [eos]: { id: eos, ids: [vocab.get(eos)], tokens: [eos] } },
      }
    : { ...byteLevel, trim_offsets: false };
  // With a prefix space added, decoding must drop it again (as sentencepiece's decoder does).
  const decoder = options.addPrefixSpace
    ? { type: 'Sequence', decoders: [byteLevel, { type: 'Strip', content: ' ', start: 1, stop: 0 }] }
    : byteLevel;
  return {
    vocab,
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: options.specials.map((t) => addedToken(vocab.get(t) as number, t)),
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: postProcessor,
      decoder,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: true,
        vocab: Object.fromEntries(vocab),
        merges: merges.map(([a, b]) => `${a} ${b}`),
      },
    },
  };
}
