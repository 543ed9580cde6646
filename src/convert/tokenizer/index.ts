// Repos with only a "slow" tokenizer (vocab.txt, vocab.json + merges.txt, a SentencePiece model)
// get the tokenizer.json transformers.js needs, built as transformers' convert_slow_tokenizer does
// and giving the ids the slow Python tokenizer gives, plus a tokenizer_config.json that states the
// special tokens (transformers.js reads them from there only).
import { ServeError } from '../../errors.ts';
import { BPE_FAMILIES } from './bpe.ts';
import { type Family, isRecord, readJsonObject, resolveSpecials, specialsForConfig } from './common.ts';
import { SENTENCEPIECE_FAMILIES } from './sentencepiece.ts';
import { WORDPIECE_FAMILIES } from './wordpiece.ts';

const SOURCE_FILES = new Set([
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'sentencepiece.bpe.model',
  'spiece.model',
  'tokenizer.model',
  'source.spm',
  'target.spm',
  'special_tokens_map.json',
  'added_tokens.json',
  'tokenizer_config.json',
]);

const FAMILIES: Record<string, Family> = {
  ...WORDPIECE_FAMILIES,
  ...BPE_FAMILIES,
  ...SENTENCEPIECE_FAMILIES,
};

/** The tokenizer class of each config.json model_type, when tokenizer_config.json names none (AutoTokenizer's table). */
const MODEL_TYPE_CLASSES: Record<string, string> = {
  bert: 'BertTokenizer',
  distilbert: 'DistilBertTokenizer',
  electra: 'ElectraTokenizer',
  mobilebert: 'MobileBertTokenizer',
  squeezebert: 'SqueezeBertTokenizer',
  layoutlm: 'LayoutLMTokenizer',
  mpnet: 'MPNetTokenizer',
  roberta: 'RobertaTokenizer',
  longformer: 'LongformerTokenizer',
  gpt2: 'GPT2Tokenizer',
  'xlm-roberta': 'XLMRobertaTokenizer',
  camembert: 'CamembertTokenizer',
  t5: 'T5Tokenizer',
  mt5: 'T5Tokenizer',
  bart: 'BartTokenizer',
  marian: 'MarianTokenizer',
};

/** The files of a repo listing (paths relative to its root) that converting its tokenizer reads. */
export function tokenizerSourceFiles(listing: readonly string[]): string[] {
  return listing.filter((file) => SOURCE_FILES.has(file));
}

function tokenizerClass(config: Record<string, unknown>, modelConfig: Record<string, unknown>): string {
  const named = config.tokenizer_class;
  if (named !== undefined && named !== null) {
    if (typeof named !== 'string')
      throw new ServeError('bad_tokenizer', 'tokenizer_class is not a string', {});
    return named.replace(/Fast$/, '');
  }
  const modelType = modelConfig.model_type;
  const fromType = typeof modelType === 'string' ? MODEL_TYPE_CLASSES[modelType] : undefined;
  if (fromType === undefined) {
    throw new ServeError(
      'unsupported_architecture',
      `no tokenizer class for model_type ${JSON.stringify(modelType)}; tokenizers are converted for ${Object.keys(MODEL_TYPE_CLASSES).join(', ')}`,
      { model_type: modelType ?? null, supported: Object.keys(MODEL_TYPE_CLASSES) },
    );
  }
  return fromType;
}

/**
 * The tokenizer.json and tokenizer_config.json for a repo folder `dir` holding the files of
 * `listing`, or undefined when the repo has a tokenizer.json of its own. `modelConfig` is its
 * config.json (its model_type names the class when tokenizer_config.json does not).
 */
export function convertTokenizer(
  dir: string,
  listing: readonly string[],
  modelConfig: Record<string, unknown>,
): { tokenizer: object; tokenizerConfig: Record<string, unknown> } | undefined {
  if (listing.includes('tokenizer.json')) return undefined;
  const files = new Set(listing);
  const config = files.has('tokenizer_config.json') ? readJsonObject(dir, 'tokenizer_config.json') : {};
  const className = tokenizerClass(config, modelConfig);
  const family = FAMILIES[className];
  if (family === undefined) {
    throw new ServeError(
      'unsupported_architecture',
      `hubserve cannot convert a ${className}; it converts ${Object.keys(FAMILIES).join(', ')}`,
      { tokenizer_class: className, supported: Object.keys(FAMILIES) },
    );
  }
  const specialMap = files.has('special_tokens_map.json')
    ? readJsonObject(dir, 'special_tokens_map.json')
    : undefined;
  const specials = resolveSpecials(config, specialMap, family.defaults);
  const built = family.build({ dir, listing: files, config, tokenizerClass: className }, specials);

  // AddedToken objects (added_tokens_decoder, special tokens given as dicts) go: transformers.js
  // throws on the dict forms it does not know, and the added tokens now live in tokenizer.json.
  const tokenizerConfig: Record<string, unknown> = Object.fromEntries(
    Object.entries(config).filter(
      ([key, value]) => key !== 'added_tokens_decoder' && !(isRecord(value) && key.endsWith('_token')),
    ),
  );
  Object.assign(tokenizerConfig, built.config, specialsForConfig(specials), { tokenizer_class: className });
  return { tokenizer: built.tokenizer, tokenizerConfig };
}
