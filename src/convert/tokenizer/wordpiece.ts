// WordPiece tokenizers from vocab.txt (BertTokenizer and the classes that copy it), as
// convert_slow_tokenizer.BertConverter / MPNetConverter build them, plus what the slow tokenizer
// does that the fast one does not (NFC before splitting, never_split).
import {
  type AddedToken,
  badTokenizer,
  clsSepTemplate,
  collectAddedTokens,
  configFlag,
  type Family,
  plainFlags,
  readText,
  requireSpecial,
  type SpecialDefaults,
  tokenId,
  tokenizerJson,
} from './common.ts';

const BERT_SPECIALS: SpecialDefaults = {
  unk_token: { content: '[UNK]' },
  sep_token: { content: '[SEP]' },
  pad_token: { content: '[PAD]' },
  cls_token: { content: '[CLS]' },
  mask_token: { content: '[MASK]' },
};

const MPNET_SPECIALS: SpecialDefaults = {
  bos_token: { content: '<s>' },
  eos_token: { content: '</s>' },
  sep_token: { content: '</s>' },
  cls_token: { content: '<s>' },
  unk_token: { content: '[UNK]' },
  pad_token: { content: '<pad>' },
  mask_token: { content: '<mask>', lstrip: true },
};

/** vocab.txt as tokenization_bert.load_vocab reads it: one token a line, ids by line, a repeated line wins. */
export function readWordPieceVocab(text: string): Map<string, number> {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw badTokenizer('vocab.txt is empty', { file: 'vocab.txt' });
  const vocab = new Map<string, number>();
  lines.forEach((token, id) => vocab.set(token, id));
  return vocab;
}

function neverSplit(config: Record<string, unknown>): string[] {
  const value = config.never_split;
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((t) => typeof t === 'string')) {
    throw badTokenizer('tokenizer_config.json never_split is not a list of strings', {});
  }
  return value as string[];
}

/**
 * CJK ideographs outside the BMP, which BasicTokenizer._is_chinese_char splits off but
 * transformers.js's BertNormalizer misses (it looks at UTF-16 code units): extensions B to E and
 * the compatibility supplement (the JSON holds the characters themselves, which both the Rust and
 * the JS regex engines read).
 */
const ASTRAL_CJK =
  '[\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\u{2F800}-\u{2FA1F}]';

function bertPreTokenizer(chinese: boolean): Record<string, unknown> {
  if (!chinese) return { type: 'BertPreTokenizer' };
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'BertPreTokenizer' },
      { type: 'Split', pattern: { Regex: ASTRAL_CJK }, behavior: 'Isolated', invert: false },
    ],
  };
}

/** MPNet's pair template puts two </s> between the texts, and its token type ids are all 0. */
function wordPiece(style: 'bert' | 'mpnet'): Family {
  return {
    defaults: style === 'bert' ? BERT_SPECIALS : MPNET_SPECIALS,
    build(source, specials) {
      const vocab = readWordPieceVocab(readText(source, 'vocab.txt'));
      const config = source.config;
      const lowercase = configFlag(config, 'do_lower_case', true);
      const basic = configFlag(config, 'do_basic_tokenize', true);
      const chinese = configFlag(config, 'tokenize_chinese_chars', true);
      const stripAccents = config.strip_accents ?? null;
      if (stripAccents !== null && typeof stripAccents !== 'boolean') {
        throw badTokenizer('tokenizer_config.json strip_accents is not a boolean or null', {});
      }
      const unk = requireSpecial(specials, 'unk_token', source.tokenizerClass);
      const cls = requireSpecial(specials, 'cls_token', source.tokenizerClass);
      const sep = requireSpecial(specials, 'sep_token', source.tokenizerClass);

      const vocabSize = Math.max(...vocab.values()) + 1;
      const added: AddedToken[] = collectAddedTokens(source, specials, vocab, vocabSize);
      // BasicTokenizer keeps a never_split word whole and WordPiece then looks it up as one token.
      // An added token does that, but only for words the vocabulary has (the slow tokenizer gives
      // [UNK] for the others) and, when lowercasing, only for lowercase ones: the slow tokenizer
      // lowercases the text before BasicTokenizer compares it with never_split.
      const taken = new Set(added.map((t) => t.content));
      for (const word of neverSplit(config)) {
        const id = vocab.get(word);
        if (id === undefined || taken.has(word) || (lowercase && word !== word.toLowerCase())) continue;
        added.push({ id, ...plainFlags(word, false) });
        taken.add(word);
      }
      added.sort((a, b) => a.id - b.id);
      const modelVocab = new Map(vocab);
      // The WordPiece model resolves its unk_token in the vocabulary it is given.
      const unkAdded = added.find((t) => t.content === unk);
      if (!modelVocab.has(unk) && unkAdded) modelVocab.set(unk, unkAdded.id);

      const ids = (token: string): number => tokenId(token, added, vocab);
      const bertNormalizer = {
        type: 'BertNormalizer',
        clean_text: true,
        handle_chinese_chars: chinese,
        strip_accents: stripAccents,
        lowercase,
      };
      const tokenizer = tokenizerJson({
        added_tokens: added,
        // BasicTokenizer NFC-composes the text after cleaning it; the fast BertNormalizer does not.
        normalizer: basic ? { type: 'Sequence', normalizers: [{ type: 'NFC' }, bertNormalizer] } : null,
        pre_tokenizer: basic ? bertPreTokenizer(chinese) : { type: 'WhitespaceSplit' },
        post_processor: clsSepTemplate(cls, sep, style === 'bert' ? 'bert' : 'double-sep', ids),
        decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
        model: {
          type: 'WordPiece',
          unk_token: unk,
          continuing_subword_prefix: '##',
          max_input_chars_per_word: 100,
          vocab: Object.fromEntries(modelVocab),
        },
      });
      return {
        tokenizer,
        config: { do_lower_case: lowercase, strip_accents: stripAccents, tokenize_chinese_chars: chinese },
      };
    },
  };
}

export const WORDPIECE_FAMILIES: Record<string, Family> = {
  BertTokenizer: wordPiece('bert'),
  DistilBertTokenizer: wordPiece('bert'),
  ElectraTokenizer: wordPiece('bert'),
  MobileBertTokenizer: wordPiece('bert'),
  SqueezeBertTokenizer: wordPiece('bert'),
  LayoutLMTokenizer: wordPiece('bert'),
  MPNetTokenizer: wordPiece('mpnet'),
};
