// Byte-level BPE tokenizers from vocab.json + merges.txt (GPT2Tokenizer, RobertaTokenizer), as
// convert_slow_tokenizer.GPT2Converter / RobertaConverter build them.
import {
  FAIRSEQ_SPECIALS,
  clsSepTemplate,
  collectAddedTokens,
  configFlag,
  type Family,
  readText,
  readVocab,
  requireSpecial,
  type SpecialDefaults,
  templateProcessing,
  tokenId,
  tokenizerJson,
} from './common.ts';

const GPT2_SPECIALS: SpecialDefaults = {
  bos_token: { content: '<|endoftext|>' },
  eos_token: { content: '<|endoftext|>' },
  unk_token: { content: '<|endoftext|>' },
};

/**
 * merges.txt as the slow tokenizer reads it: `read().split("\n")[1:-1]`, so the first line (the
 * `#version` header) and the last (empty after the final newline) are always dropped, even when
 * the file has no header or no final newline. A pair listed twice ranks where it was seen last.
 */
export function readMerges(text: string): [string, string][] {
  const ranks = new Map<string, [string, string]>();
  for (const line of text.split('\n').slice(1, -1)) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) continue; // bpe() can never pick a pair that is not two symbols
    const [a, b] = parts as [string, string];
    const key = `${a} ${b}`;
    ranks.delete(key);
    ranks.set(key, [a, b]);
  }
  return [...ranks.values()];
}

function byteLevel(style: 'roberta' | 'gpt2'): Family {
  return {
    defaults: style === 'roberta' ? FAIRSEQ_SPECIALS : GPT2_SPECIALS,
    build(source, specials) {
      const vocab = readVocab(source);
      const merges = readMerges(readText(source, 'merges.txt'));
      const addPrefixSpace = configFlag(source.config, 'add_prefix_space', false);
      const vocabSize = Math.max(...vocab.values()) + 1;
      const added = collectAddedTokens(source, specials, vocab, vocabSize);
      const ids = (token: string): number => tokenId(token, added, vocab);

      let postProcessor: Record<string, unknown>;
      const config: Record<string, unknown> = { add_prefix_space: addPrefixSpace };
      if (style === 'roberta') {
        const cls = requireSpecial(specials, 'cls_token', source.tokenizerClass);
        const sep = requireSpecial(specials, 'sep_token', source.tokenizerClass);
        // RobertaProcessing would give the second text type id 1; the slow tokenizer gives 0 throughout.
        postProcessor = clsSepTemplate(cls, sep, 'double-sep', ids);
      } else {
        // GPT-2 adds nothing unless add_bos_token; a template (not the ByteLevel post-processor,
        // which transformers.js lets drop the second text) keeps pairs as a + b.
        const bos = configFlag(source.config, 'add_bos_token', false)
          ? [[requireSpecial(specials, 'bos_token', source.tokenizerClass), 0] as const]
          : [];
        postProcessor = templateProcessing([...bos, ['A', 0]], [...bos, ['A', 0], ['B', 1]], ids);
      }
      const unk = specials.tokens.unk_token?.content;
      const tokenizer = tokenizerJson({
        added_tokens: added,
        normalizer: null,
        pre_tokenizer: {
          type: 'ByteLevel',
          add_prefix_space: addPrefixSpace,
          trim_offsets: true,
          use_regex: true,
        },
        post_processor: postProcessor,
        decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
        model: {
          type: 'BPE',
          dropout: null,
          // The slow tokenizer maps a symbol missing from vocab.json to unk_token's id.
          unk_token: unk !== undefined && vocab.has(unk) ? unk : null,
          continuing_subword_prefix: '',
          end_of_word_suffix: '',
          fuse_unk: false,
          byte_fallback: false,
          ignore_merges: false,
          vocab: Object.fromEntries(vocab),
          merges,
        },
      });
      return { tokenizer, config };
    },
  };
}

export const BPE_FAMILIES: Record<string, Family> = {
  RobertaTokenizer: byteLevel('roberta'),
  LongformerTokenizer: byteLevel('roberta'),
  // BartTokenizer is RobertaTokenizer under another name (tokenization_bart.py).
  BartTokenizer: byteLevel('roberta'),
  GPT2Tokenizer: byteLevel('gpt2'),
};
