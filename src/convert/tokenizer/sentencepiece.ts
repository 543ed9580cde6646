// Unigram tokenizers from a SentencePiece model file (XLMRobertaTokenizer, CamembertTokenizer,
// T5Tokenizer, MarianTokenizer), as convert_slow_tokenizer.SpmConverter and its subclasses build them: fairseq's ids
// laid over the SentencePiece ids (XLM-R, CamemBERT) or the model's own ids with T5's sentinel
// tokens after them, and the whitespace rules of the model's normalizer_spec.
import protobuf from 'protobufjs';
import {
  type AddedToken,
  badTokenizer,
  FAIRSEQ_SPECIALS,
  clsSepTemplate,
  collectAddedTokens,
  type Family,
  plainFlags,
  readBytes,
  readVocab,
  requireSpecial,
  templateProcessing,
  tokenId,
  tokenizerJson,
  type TokenizerSource,
} from './common.ts';

/** SentencePiece.Type in sentencepiece_model.proto. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** The part of sentencepiece_model.proto (proto2) a converter reads, with its field numbers. */
const ROOT = protobuf.Root.fromJSON({
  nested: {
    sentencepiece: {
      nested: {
        ModelProto: {
          fields: {
            pieces: { rule: 'repeated', type: 'SentencePiece', id: 1 },
            trainer_spec: { type: 'TrainerSpec', id: 2 },
            normalizer_spec: { type: 'NormalizerSpec', id: 3 },
          },
        },
        SentencePiece: {
          fields: {
            piece: { type: 'string', id: 1 },
            score: { type: 'float', id: 2 },
            type: { type: 'int32', id: 3 },
          },
        },
        TrainerSpec: {
          fields: {
            model_type: { type: 'int32', id: 3 },
            byte_fallback: { type: 'bool', id: 35 },
            unk_id: { type: 'int32', id: 40 },
          },
        },
        NormalizerSpec: {
          fields: {
            name: { type: 'string', id: 1 },
            precompiled_charsmap: { type: 'bytes', id: 2 },
            add_dummy_prefix: { type: 'bool', id: 3 },
            remove_extra_whitespaces: { type: 'bool', id: 4 },
            escape_whitespaces: { type: 'bool', id: 5 },
          },
        },
      },
    },
  },
});
const MODEL_PROTO = ROOT.lookupType('sentencepiece.ModelProto');

export interface SentencePieceModel {
  pieces: { piece: string; score: number; type: number }[];
  /** TrainerSpec.model_type: 1 unigram, 2 BPE, 3 word, 4 char. */
  modelType: number;
  unkId: number;
  byteFallback: boolean;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
}

interface RawPiece {
  piece?: string;
  score?: number;
  type?: number;
}
interface RawModel {
  pieces?: RawPiece[];
  trainer_spec?: { model_type?: number; byte_fallback?: boolean; unk_id?: number };
  normalizer_spec?: {
    precompiled_charsmap?: Uint8Array;
    add_dummy_prefix?: boolean;
    remove_extra_whitespaces?: boolean;
  };
}

/** A SentencePiece ModelProto, with proto2's declared defaults for the fields it leaves out. */
export function parseSentencePiece(bytes: Uint8Array, file: string): SentencePieceModel {
  let raw: RawModel;
  try {
    raw = MODEL_PROTO.toObject(MODEL_PROTO.decode(bytes), { defaults: false }) as RawModel;
  } catch (error) {
    throw badTokenizer(`${file} is not a SentencePiece model (${(error as Error).message})`, { file });
  }
  const pieces = (raw.pieces ?? []).map((p) => ({
    piece: p.piece ?? '',
    score: p.score ?? 0,
    type: p.type ?? 1,
  }));
  if (pieces.length === 0) throw badTokenizer(`${file} has no pieces`, { file });
  const trainer = raw.trainer_spec ?? {};
  const normalizer = raw.normalizer_spec ?? {};
  return {
    pieces,
    modelType: trainer.model_type ?? 1,
    unkId: trainer.unk_id ?? 0,
    byteFallback: trainer.byte_fallback ?? false,
    precompiledCharsmap: normalizer.precompiled_charsmap ?? new Uint8Array(),
    addDummyPrefix: normalizer.add_dummy_prefix ?? true,
    removeExtraWhitespaces: normalizer.remove_extra_whitespaces ?? true,
  };
}

/** The model file a class reads (its VOCAB_FILES_NAMES). */
const MODEL_FILE = 'sentencepiece.bpe.model';

/**
 * The Unigram vocabulary in fairseq's ids. XLM-R: <s> <pad> </s> <unk>, then SentencePiece's
 * pieces from id 3 on (so piece i gets id i + 1), then <mask>. CamemBERT: <s>NOTUSED <pad>
 * </s>NOTUSED <unk> <unk>NOTUSED, then every piece after SentencePiece's <unk> (piece i gets
 * i + 4), then <mask>.
 */
function fairseqVocab(style: 'xlm-roberta' | 'camembert', model: SentencePieceModel): [string, number][] {
  const pieces = model.pieces.map((p): [string, number] => [p.piece, p.score]);
  if (style === 'xlm-roberta') {
    return [['<s>', 0], ['<pad>', 0], ['</s>', 0], ['<unk>', 0], ...pieces.slice(3), ['<mask>', 0]];
  }
  return [
    ['<s>NOTUSED', 0],
    ['<pad>', 0],
    ['</s>NOTUSED', 0],
    ['<unk>', 0],
    // Scored -100 so the lattice never picks it over the <unk> above.
    ['<unk>NOTUSED', -100],
    ...pieces.slice(1),
    ['<mask>', 0],
  ];
}

/**
 * SentencePiece's own whitespace handling, in fast-tokenizer steps: the charsmap normalisation,
 * then (remove_extra_whitespaces) no space at either end and none repeated; Metaspace then turns
 * spaces into ▁ and, with add_dummy_prefix, puts one in front of each piece of text.
 */
function normalizer(model: SentencePieceModel): Record<string, unknown> | null {
  const steps: Record<string, unknown>[] = [];
  if (model.precompiledCharsmap.length > 0) {
    steps.push({
      type: 'Precompiled',
      precompiled_charsmap: Buffer.from(model.precompiledCharsmap).toString('base64'),
    });
  }
  if (model.removeExtraWhitespaces) {
    steps.push({ type: 'Strip', strip_left: true, strip_right: true });
    steps.push({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' });
  }
  return steps.length === 0 ? null : { type: 'Sequence', normalizers: steps };
}

/** A Unigram model file of the repo, parsed, or bad_tokenizer when it is another kind. */
function readUnigram(source: TokenizerSource, file: string): SentencePieceModel {
  const model = parseSentencePiece(readBytes(source, file), file);
  if (model.modelType !== 1) {
    throw badTokenizer(`${file} is a SentencePiece model of type ${model.modelType}, not unigram (1)`, {
      file,
    });
  }
  if (model.pieces.length < 3) throw badTokenizer(`${file} has too few pieces`, { file });
  return model;
}

const metaspace = (prepend: 'always' | 'first' | 'never'): Record<string, unknown> => ({
  type: 'Metaspace',
  replacement: '\u2581',
  prepend_scheme: prepend,
  split: true,
});

function fairseqUnigram(style: 'xlm-roberta' | 'camembert'): Family {
  return {
    defaults:
      style === 'xlm-roberta'
        ? FAIRSEQ_SPECIALS
        : { ...FAIRSEQ_SPECIALS, additional_special_tokens: ['<s>NOTUSED', '</s>NOTUSED'] },
    build(source: TokenizerSource, specials) {
      const model = readUnigram(source, MODEL_FILE);
      const vocabList = fairseqVocab(style, model);
      const vocab = new Map<string, number>();
      // A piece listed twice keeps its first id, as SentencePiece's PieceToId does.
      vocabList.forEach(([piece], id) => {
        if (!vocab.has(piece)) vocab.set(piece, id);
      });
      const added: AddedToken[] = collectAddedTokens(source, specials, vocab, vocabList.length);
      if (style === 'camembert' && !added.some((t) => t.content === '<unk>NOTUSED')) {
        // CamembertTokenizer.__init__ always holds <unk>NOTUSED as an added token at id 4.
        added.push({ id: 4, ...plainFlags('<unk>NOTUSED', true) });
        added.sort((a, b) => a.id - b.id);
      }
      // SpmConverter makes control pieces special added tokens and user-defined ones plain added
      // tokens. Only the first here: SentencePiece matches a user-defined piece inside the text
      // (no ▁ after it), which the Unigram lattice does too, but an added token would split there.
      const offset = style === 'xlm-roberta' ? 1 : 4;
      model.pieces.forEach((p, i) => {
        if (p.type !== PieceType.CONTROL || added.some((t) => t.content === p.piece)) return;
        const id = vocab.get(p.piece) ?? i + offset;
        added.push({ id, ...plainFlags(p.piece, true) });
      });
      added.sort((a, b) => a.id - b.id);

      const unk = requireSpecial(specials, 'unk_token', source.tokenizerClass);
      const cls = requireSpecial(specials, 'cls_token', source.tokenizerClass);
      const sep = requireSpecial(specials, 'sep_token', source.tokenizerClass);
      const ids = (token: string): number => tokenId(token, added, vocab);
      const unkId = vocab.get(unk);
      if (unkId === undefined) throw badTokenizer(`the vocabulary has no ${unk}`, {});
      const prepend = model.addDummyPrefix ? 'always' : 'never';
      const tokenizer = tokenizerJson({
        added_tokens: added,
        normalizer: normalizer(model),
        pre_tokenizer: metaspace(prepend),
        post_processor: clsSepTemplate(cls, sep, 'double-sep', ids),
        decoder: metaspace(prepend),
        model: { type: 'Unigram', unk_id: unkId, vocab: vocabList, byte_fallback: false },
      });
      return { tokenizer, config: {} };
    },
  };
}

/** How many sentinel tokens a T5 tokenizer has: tokenizer_config's extra_ids (T5Tokenizer's default 100). */
function extraIds(config: Record<string, unknown>): number {
  const count = config.extra_ids ?? 100;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
    throw badTokenizer(`tokenizer_config.json has extra_ids ${JSON.stringify(count)}`, {});
  }
  return count;
}

/**
 * T5Tokenizer (spiece.model), as T5Converter builds it: the model's pieces with their own ids, then
 * <extra_id_{n-1}> ... <extra_id_0> (special, eating the spaces around them, as T5Tokenizer adds
 * them), and `</s>` after each text. Metaspace puts ▁ before every piece of text, as the legacy slow
 * tokenizer does; with `legacy: false` only before the first.
 */
const t5Unigram: Family = {
  defaults: {
    eos_token: { content: '</s>' },
    unk_token: { content: '<unk>' },
    pad_token: { content: '<pad>' },
  },
  build(source, specials) {
    const file = 'spiece.model';
    const model = readUnigram(source, file);
    const count = extraIds(source.config);
    const sentinels = Array.from({ length: count }, (_, i) => `<extra_id_${count - 1 - i}>`);
    const vocabList: [string, number][] = [
      ...model.pieces.map((p): [string, number] => [p.piece, p.score]),
      ...sentinels.map((s): [string, number] => [s, 0]),
    ];
    const vocab = new Map<string, number>();
    vocabList.forEach(([piece], id) => {
      if (!vocab.has(piece)) vocab.set(piece, id);
    });
    const added = collectAddedTokens(source, specials, vocab, vocabList.length);
    for (const sentinel of sentinels) {
      const known = added.find((t) => t.content === sentinel);
      const flags = { ...plainFlags(sentinel, true), lstrip: true, rstrip: true };
      if (known) Object.assign(known, flags);
      else added.push({ id: vocab.get(sentinel) as number, ...flags });
    }
    added.sort((a, b) => a.id - b.id);
    const eos = requireSpecial(specials, 'eos_token', source.tokenizerClass);
    const unk = requireSpecial(specials, 'unk_token', source.tokenizerClass);
    const unkId = vocab.get(unk);
    if (unkId === undefined) throw badTokenizer(`the vocabulary has no ${unk}`, {});
    const ids = (token: string): number => tokenId(token, added, vocab);
    const legacy = source.config.legacy !== false;
    const prepend = !model.addDummyPrefix ? 'never' : legacy ? 'always' : 'first';
    const tokenizer = tokenizerJson({
      added_tokens: added,
      normalizer: normalizer(model),
      pre_tokenizer: metaspace(prepend),
      post_processor: templateProcessing(
        [
          ['A', 0],
          [eos, 0],
        ],
        [
          ['A', 0],
          [eos, 0],
          ['B', 0],
          [eos, 0],
        ],
        ids,
      ),
      decoder: metaspace(prepend),
      model: { type: 'Unigram', unk_id: unkId, vocab: vocabList, byte_fallback: model.byteFallback },
    });
    const listed = specials.additional.map((t) => t.content);
    const config =
      listed.length > 0 ? {} : { additional_special_tokens: sentinels.slice().reverse(), extra_ids: count };
    return { tokenizer, config };
  },
};

/**
 * MarianTokenizer (source.spm + vocab.json): the source model's pieces with the ids of vocab.json,
 * which source and target share. The Unigram lists vocab.json's tokens in id order with the source
 * model's scores; tokens only the target model has score below every source piece, so the lattice
 * takes them only where the source model has nothing. A >>lang<< code is one token (the slow
 * tokenizer keeps only a leading one whole). `</s>` follows each text. transformers normalizes punctuation with
 * sacremoses when it is installed and not otherwise: this is the second (no normalization).
 */
const marianUnigram: Family = {
  defaults: {
    eos_token: { content: '</s>' },
    unk_token: { content: '<unk>' },
    pad_token: { content: '<pad>' },
  },
  build(source, specials) {
    if (source.config.separate_vocabs === true) {
      throw badTokenizer('a MarianTokenizer with separate_vocabs (target_vocab.json) is not converted', {});
    }
    const model = readUnigram(source, 'source.spm');
    const vocab = readVocab(source);
    const byId: string[] = [];
    for (const [token, id] of vocab) byId[id] = token;
    if (byId.length !== vocab.size || byId.some((t) => t === undefined)) {
      throw badTokenizer('vocab.json ids are not 0 ... n-1, each once', { file: 'vocab.json' });
    }
    const scores = new Map(model.pieces.map((p) => [p.piece, p.score]));
    const lowest = Math.min(...scores.values());
    const vocabList = byId.map((token): [string, number] => [token, scores.get(token) ?? lowest - 1]);
    const added = collectAddedTokens(source, specials, vocab, vocabList.length);
    // Language codes (>>fra<<) stay whole: transformers.js v4 no longer runs its MarianTokenizer's
    // own split, so they are added tokens (not special: decoding keeps them, as transformers does).
    for (const [token, id] of vocab) {
      if (token.startsWith('>>') && token.endsWith('<<') && !added.some((t) => t.content === token)) {
        added.push({ id, ...plainFlags(token, false), normalized: false });
      }
    }
    added.sort((a, b) => a.id - b.id);
    const eos = requireSpecial(specials, 'eos_token', source.tokenizerClass);
    const unk = requireSpecial(specials, 'unk_token', source.tokenizerClass);
    const unkId = vocab.get(unk);
    if (unkId === undefined) throw badTokenizer(`vocab.json has no ${unk}`, {});
    const ids = (token: string): number => tokenId(token, added, vocab);
    const prepend = model.addDummyPrefix ? 'always' : 'never';
    const tokenizer = tokenizerJson({
      added_tokens: added,
      normalizer: normalizer(model),
      pre_tokenizer: metaspace(prepend),
      // MarianTokenizer.build_inputs_with_special_tokens: a + b + </s>.
      post_processor: templateProcessing(
        [
          ['A', 0],
          [eos, 0],
        ],
        [
          ['A', 0],
          ['B', 0],
          [eos, 0],
        ],
        ids,
      ),
      decoder: metaspace(prepend),
      model: { type: 'Unigram', unk_id: unkId, vocab: vocabList, byte_fallback: false },
    });
    return { tokenizer, config: {} };
  },
};

export const SENTENCEPIECE_FAMILIES: Record<string, Family> = {
  MarianTokenizer: marianUnigram,
  XLMRobertaTokenizer: fairseqUnigram('xlm-roberta'),
  CamembertTokenizer: fairseqUnigram('camembert'),
  T5Tokenizer: t5Unigram,
};
